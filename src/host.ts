import { hostname } from 'node:os';

/** The host name events are stamped with; AUDITSHIPPER_HOSTNAME overrides (e.g. the node name in Kubernetes). */
export const HOST = process.env.AUDITSHIPPER_HOSTNAME || hostname();
