import { onexLint } from '@onex/eslint-config';

export default onexLint(import.meta.dirname);
