import { misbehave } from './misbehave.js';

misbehave('exit');
