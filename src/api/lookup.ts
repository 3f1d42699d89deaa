import { VpcctlError } from '../errors.js';
import type { State, SubnetState, VpcState } from '../state/types.js';

/** Finding objects of the state by name, with the NOT_FOUND errors users see. */

export const findVpc = (state: State, name: string): VpcState =>
  state.vpcs[name] ?? (() => { throw new VpcctlError('NOT_FOUND', `vpc "${name}" does not exist`); })();

export const findSubnet = (state: State, vpc: string, subnet: string): SubnetState =>
  findVpc(state, vpc).subnets[subnet] ??
  (() => { throw new VpcctlError('NOT_FOUND', `subnet "${subnet}" does not exist in vpc "${vpc}"`); })();
