#!/usr/bin/env node
// The simulated payment provider as a process (an HTTP service outside ONEX, like a real PSP).
import { runNodeProcess } from '../runtime/node-process.js';
import { providerConfigFromSettings, providerRandomFromSettings, startPaymentProvider } from './payment-provider.js';

await runNodeProcess({
  name: 'payment-provider',
  start: async (args) => {
    const random = providerRandomFromSettings(args.settings);
    const served = await startPaymentProvider({ port: args.port, config: providerConfigFromSettings(args.settings), ...(random === undefined ? {} : { random }) });
    return { served };
  },
});
