import { onexLint } from '@onex/eslint-config';

export default [{ ignores: ['generated/**'] }, ...onexLint(import.meta.dirname)];
