import { misbehave } from './misbehave.js';

misbehave('fail');
