/** Sample records shared by the parse tests. */

/** A Retool audit_trail_events row as JSON (columns: research/redaction.md §1.4). */
export const RETOOL_ROW = {
  id: 48213,
  userId: 42,
  organizationId: 1,
  userAgent: 'Mozilla/5.0',
  ipAddress: '::ffff:10.0.0.5',
  geoLocation: { country: 'PT', city: 'Lisbon' },
  responseTimeMs: 87,
  actionType: 'QUERY_RUN',
  pageName: 'Support Console',
  queryName: 'getCustomers',
  resourceName: 'prod-postgres',
  createdAt: '2024-01-31T14:11:37.340Z',
  updatedAt: '2024-01-31T14:11:37.340Z',
  metadata: { query: 'select * from customers', user: { email: 'ana@example.com' } },
};

/** ToolJet's log file record (ToolJet docs, audit logs "Example Log file data"). */
export const TOOLJET_FILE_RECORD = {
  userId: '0ad48e21-e7a2-4597-9568-c4535aedf687',
  organizationId: 'cf8e132f-a68a-4c81-a0d4-3617b79e7b17',
  resourceId: 'eac02f79-b8e2-495a-bffe-82633416c829',
  resourceType: 'APP',
  actionType: 'APP_CREATE',
  resourceName: 'awdasdawdwd',
  ipAddress: '::1',
  metadata: { userAgent: 'Mozilla/5.0 (Macintosh)', tooljetVersion: '2.22.2-ee2.8.3' },
};

export const TOOLJET_ROW = {
  id: '5b0c3c8e-1111-4d7c-9c1b-000000000001',
  action_type: 'USER_LOGIN',
  created_at: '2024-03-01T08:00:00.000Z',
  ip_address: '::ffff:172.16.0.9',
  metadata: { tooljet_version: '2.30.0', user_agent: 'curl/8' },
  organization_id: 'org-1',
  resource_id: 'user-7',
  resource_name: 'ana@example.com',
  resource_type: 'USER',
  user_id: 'user-7',
};
