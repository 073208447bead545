/**
 * Deterministic log workloads for integration tests: Retool-style audit lines (with query
 * text, parameters, headers), ordinary app log lines, garbage, optional CRI wrapping.
 * Every audit line carries a unique Retool `id`, which the agent keeps as `app_event_id`,
 * so a test can check "every audit event exactly once".
 */

/** Small seeded PRNG (mulberry32): same seed, same workload. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function retoolAuditLine(id: number, r: () => number = Math.random): string {
  const actions = ['QUERY_RUN', 'PAGE_VIEW', 'LOGIN', 'UPDATE_RESOURCE', 'DELETE_GROUP'];
  const action = actions[Math.floor(r() * actions.length)]!;
  return JSON.stringify({
    level: 'info',
    message: 'audit event',
    id,
    userId: 1 + Math.floor(r() * 50),
    organizationId: 1,
    userAgent: 'Mozilla/5.0',
    ipAddress: '::ffff:10.0.0.5',
    actionType: action,
    queryName: action === 'QUERY_RUN' ? 'getCustomers' : null,
    resourceName: 'prod-postgres',
    pageName: 'Support Console',
    createdAt: new Date(Date.UTC(2026, 10, 21, 10, 0, 0) + id).toISOString(),
    responseTimeMs: Math.floor(r() * 500),
    metadata: {
      query: `SELECT * FROM customers WHERE id = ${id}`,
      headers: { Authorization: `Bearer tok-${id}`, Accept: 'application/json' },
    },
  });
}

export function appLogLine(i: number): string {
  return JSON.stringify({
    level: 'info',
    time: 1_700_000_000_000 + i,
    msg: `GET /api/apps/${i} 200`,
    reqId: `r-${i}`,
  });
}

export function garbageLine(i: number): string {
  return i % 2 === 0
    ? `{"unterminated": "json ${i}`
    : `\u0000\u0001 binary-ish garbage ${i} \u00ff`;
}

export function cri(
  content: string,
  stream: 'stdout' | 'stderr' = 'stdout',
  tag: 'F' | 'P' = 'F',
): string {
  return `2026-11-21T10:00:00.123456789Z ${stream} ${tag} ${content}`;
}
