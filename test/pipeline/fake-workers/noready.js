import { misbehave } from './misbehave.js';

misbehave('noready');
