import { misbehave } from './misbehave.js';

misbehave('throw');
