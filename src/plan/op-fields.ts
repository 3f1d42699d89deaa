import type { Op } from './ops.js';

/**
 * The fields of each plan op, as a value: the op contract's one runtime
 * description on the TypeScript side. It is checked against the `Op` type by
 * the compiler (a kind, a field or an optional mark that differs from ops.ts
 * does not build), and test/unit/op-contract.test.ts writes it, with ops the
 * planner really makes, into crates/netkit/tests/fixtures/ops.json, which
 * netkit's parser is tested on (tests/ops_contract.rs) and docs/plan-ops.md's
 * table is checked against.
 */
export type Presence = 'required' | 'optional';

type FieldsOf<T> = { [F in Exclude<keyof T, 'op'>]-?: {} extends Pick<T, F> ? 'optional' : 'required' };
export type OpFields = { [K in Op['op']]: FieldsOf<Extract<Op, { op: K }>> };

export const OP_FIELDS: OpFields = {
  netnsAdd: { ns: 'required', tag: 'required' },
  netnsDel: { ns: 'required' },
  vethAdd: {
    ns: 'required', name: 'required', alias: 'required', peerNs: 'required', peerName: 'required', peerAlias: 'required',
    mtu: 'optional', leaf: 'optional',
  },
  linkDel: { ns: 'required', name: 'required', alias: 'optional' },
  linkUp: { ns: 'required', name: 'required' },
  addrAdd: { ns: 'required', dev: 'required', cidr: 'required' },
  addrDel: { ns: 'required', dev: 'required', cidr: 'required' },
  routeAdd: { ns: 'required', dst: 'required', dev: 'optional', via: 'optional', onlink: 'optional', src: 'optional' },
  routeDel: { ns: 'required', dst: 'required', dev: 'optional', via: 'optional' },
  sysctlSet: { ns: 'required', key: 'required', value: 'required' },
  nftApply: { ns: 'required', family: 'required', table: 'required', ruleset: 'required' },
  nftDelete: { ns: 'required', family: 'required', table: 'required' },
  vxlanAdd: {
    ns: 'required', name: 'required', vni: 'required', local: 'required', dev: 'required', port: 'optional',
    mtu: 'optional', alias: 'required', mac: 'optional',
  },
  fdbAdd: { ns: 'required', dev: 'required', mac: 'required', dst: 'required' },
  fdbDel: { ns: 'required', dev: 'required', mac: 'required', dst: 'required' },
  neighAdd: { ns: 'required', dev: 'required', addr: 'required', mac: 'required' },
  neighDel: { ns: 'required', dev: 'required', addr: 'required' },
};
