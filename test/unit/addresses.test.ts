import test from 'ava';
import { gatewayIp, hostIfaceCidr, hostIp, transitEnds } from '../../src/model/addresses.js';

test('a subnet: .1 is the gateway, .2 the first host (with the prefix on its eth0)', (t) => {
  t.is(gatewayIp('10.0.1.0/24'), '10.0.1.1');
  t.is(hostIp('10.0.1.0/24'), '10.0.1.2');
  t.is(hostIfaceCidr('10.0.1.0/24'), '10.0.1.2/24');
  t.is(hostIp('10.0.1.64/26'), '10.0.1.66');
});

test('a transit or peering /30: .1 the near end, .2 the far end', (t) => {
  t.deepEqual(transitEnds('10.255.0.4/30'), {
    near: '10.255.0.5/30', far: '10.255.0.6/30', nearIp: '10.255.0.5', farIp: '10.255.0.6',
  });
});
