import { readFileSync } from 'node:fs';
import { test } from 'vitest';
import { manifestProblems, parseManifests } from './helpers/kubernetes.js';
test('x', () => {
  for (const f of ['deploy/kubernetes/sidecar.yaml', 'deploy/kubernetes/daemonset.yaml']) {
    for (const o of parseManifests(readFileSync(f, 'utf8'), f)) console.log(f, o.kind, manifestProblems(o));
  }
  const bad = parseManifests(readFileSync('deploy/kubernetes/sidecar.yaml', 'utf8').replace('readOnlyRootFilesystem', 'readOnlyRootFileSystem').replace('terminationGracePeriodSeconds: 90', 'terminationGracePeriod: 90').replace('maxSurge', 'maxSurg'), 'x');
  for (const o of bad) console.log('bad', o.kind, manifestProblems(o));
});
