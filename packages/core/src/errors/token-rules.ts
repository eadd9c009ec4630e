// Token-prefixed credentials of the families that secretlint's recommended preset (secretlint-rules.ts) does not
// cover in the release that runs on Node 20, as data. Each row is the issuer's documented token format: a fixed
// prefix (the prefilter keyword) and the body's alphabet and minimum length. Bodies are open-ended (`{n,}`), so a
// token longer than documented is masked whole rather than cut in the middle, and every repetition is a single
// character class after a literal prefix, so a match costs time linear in the text.
//
// Keep this table for what the maintained set lacks: when a preset release adds a family (check
// secretlint-rules.test.ts's coverage report), drop its row here.
import type { PatternRule } from './sanitizer-rule.js';

/** Not after a letter or digit: `sk_live_…` alone, in quotes or after `=`, but not inside `desk_live_…`. */
const START = '(?<![A-Za-z0-9])';
/** Not before another token character: the whole run is the token. */
const END = '(?![A-Za-z0-9_\\-])';

/** A rule for `prefix` (a regex source, usually a literal) followed by `body`, with its prefilter keywords. */
function token(id: string, keywords: readonly string[], prefix: string, body: string, flags?: string): PatternRule {
  return { id, keywords, pattern: `${START}${prefix}${body}${END}`, ...(flags === undefined ? {} : { flags }) };
}

const ALNUM = 'A-Za-z0-9';
const B64URL = 'A-Za-z0-9_\\-';

/**
 * The supplementary token rules, in match order.
 *
 * @internal
 * @example
 * ```ts
 * TOKEN_RULES.map((rule) => rule.id).includes('stripe-secret-key'); // true
 * ```
 */
export const TOKEN_RULES: readonly PatternRule[] = [
  // Payments.
  token('stripe-secret-key', ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'], '[sr]k_(?:live|test)_', `[${ALNUM}]{20,}`),
  token('stripe-webhook-secret', ['whsec_'], 'whsec_', `[${ALNUM}+/=]{24,}`),
  token('square-token', ['sq0atp-', 'sq0csp-'], 'sq0(?:atp|csp)-', `[${B64URL}]{22,}`),
  {
    // Square's production tokens and Meta's Graph tokens share the prefix. Not inside a base64 run (an integrity
    // hash), where `EAA` occurs by chance.
    id: 'square-or-meta-access-token',
    keywords: ['eaa'],
    pattern: `(?<![A-Za-z0-9+/=_\\-])EAA[${B64URL}]{60,}${END}`,
  },
  {
    id: 'braintree-access-token',
    keywords: ['access_token$'],
    pattern: String.raw`access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}`,
  },
  token('shippo-token', ['shippo_'], 'shippo_(?:live|test)_', '[0-9a-f]{40,}'),
  // Source hosting (GitHub's tokens and GitLab's personal access tokens are in the preset).
  token('gitlab-token', ['gldt-', 'glrt-', 'glptt-', 'glft-', 'glimt-', 'glagent-', 'gloas-', 'glsoat-', 'glcbt-'], 'gl(?:dt|rt|ptt|ft|imt|agent|oas|soat|cbt)-', `[${B64URL}]{20,}`),
  token('gitlab-runner-registration', ['gr1348941'], 'GR1348941', `[${B64URL}]{20,}`),
  token('atlassian-api-token', ['atatt3'], 'ATATT3', `[${B64URL}=]{60,}`),
  token('bitbucket-app-password', ['atbb'], 'ATBB', `[${ALNUM}]{28,}`),
  // Chat.
  {
    id: 'discord-bot-token',
    // The base64 of the bot's user id, a timestamp and an HMAC; no prefix, so no prefilter.
    pattern: String.raw`(?<![A-Za-z0-9_\-])[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,}(?![A-Za-z0-9_\-])`,
  },
  {
    id: 'discord-webhook',
    keywords: ['discord'],
    pattern: String.raw`(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d{17,20}/)[A-Za-z0-9_\-]{40,}`,
    replace: '$1$mask',
  },
  token('telegram-bot-token', [':aa'], '\\d{8,10}:AA', `[${B64URL}]{30,}`),
  {
    id: 'teams-webhook',
    keywords: ['webhook.office.com', 'logic.azure.com'],
    pattern: String.raw`(https://[A-Za-z0-9\-.]+\.(?:webhook\.office|logic\.azure)\.com/)[^\s"'<>\x60]{20,}`,
    replace: '$1$mask',
  },
  // AI APIs (OpenAI, Anthropic, Groq and Hugging Face are in the preset, with exact lengths; these catch the
  // documented prefixes whatever the length).
  token('openai-key', ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-none-'], 'sk-(?:proj|svcacct|admin|None)-', `[${B64URL}]{40,}`),
  token('anthropic-key', ['sk-ant-'], 'sk-ant-[a-z]{3,8}\\d{2}-', `[${B64URL}]{40,}`),
  token('google-api-key', ['aiza'], 'AIza', `[${B64URL}]{35,}`),
  token('xai-key', ['xai-'], 'xai-', `[${ALNUM}]{60,}`),
  token('perplexity-key', ['pplx-'], 'pplx-', `[${ALNUM}]{40,}`),
  token('replicate-token', ['r8_'], 'r8_', `[${ALNUM}]{30,}`),
  token('huggingface-org-token', ['api_org_'], 'api_org_', '[A-Za-z]{30,}'),
  // Package registries (npm and Docker Hub are in the preset).
  token('pypi-token', ['pypi-ageichlwas5vcmc'], 'pypi-AgEIcHlwaS5vcmc', `[${B64URL}]{40,}`),
  token('rubygems-key', ['rubygems_'], 'rubygems_', '[0-9a-f]{48,}'),
  token('nuget-key', ['oy2'], 'oy2', '[a-z0-9]{43,}'),
  token('cratesio-token', ['cio'], 'cio', `[${ALNUM}]{32,}`),
  // Mail (SendGrid is in the preset).
  token('mailgun-key', ['key-'], 'key-', '[0-9a-f]{32}'),
  token('mailchimp-key', ['-us'], '[0-9a-f]{32}-us', '\\d{1,2}'),
  token('brevo-key', ['xkeysib-', 'xsmtpsib-'], 'x(?:key|smtp)sib-', '[0-9a-f]{64}-[A-Za-z0-9]{16,}'),
  token('resend-key', ['re_'], 're_', `[${ALNUM}]{8}_[${ALNUM}]{20,}`),
  // Cloud access keys and connection strings (AWS key ids are an ONEX rule, AWS secret keys in the preset).
  {
    id: 'azure-storage-key',
    keywords: ['accountkey=', 'sharedaccesskey=', 'accesskey='],
    pattern: String.raw`((?:AccountKey|SharedAccessKey|AccessKey)=)[A-Za-z0-9+/]{20,}={0,2}`,
    flags: 'i',
    replace: '$1$mask',
  },
  {
    id: 'azure-sas-signature',
    keywords: ['sig='],
    pattern: String.raw`((?<![A-Za-z0-9_])sig=)[A-Za-z0-9%+/=]{16,}`,
    replace: '$1$mask',
  },
  token('azure-client-secret', ['q~'], `[${ALNUM}_~.\\-]{3}\\dQ~`, `[${ALNUM}_~.\\-]{31,}`),
  token('gcp-oauth-client-secret', ['gocspx-'], 'GOCSPX-', `[${B64URL}]{28,}`),
  token('google-oauth-access-token', ['ya29.'], 'ya29\\.', `[${B64URL}]{30,}`),
  token('google-oauth-refresh-token', ['1//0'], '1//0', `[${B64URL}]{40,}`),
  token('digitalocean-token', ['dop_v1_', 'doo_v1_', 'dor_v1_'], 'do[por]_v1_', '[0-9a-f]{64,}'),
  token('heroku-key', ['hrku-'], 'HRKU-', `[${B64URL}]{20,}`),
  token('alibaba-access-key-id', ['ltai'], 'LTAI', `[${ALNUM}]{16,}`),
  token('tencent-secret-id', ['akid'], 'AKID', `[${ALNUM}]{32,}`),
  // Observability and delivery tooling.
  token('new-relic-key', ['nrak-', 'nrii-', 'nrjs-', 'nraa-'], 'NR(?:AK|II|JS|AA)-', `[${ALNUM}]{20,}`),
  token('sentry-token', ['sntrys_', 'sntryu_'], 'sntry[su]_', `[${ALNUM}+/=_]{40,}`),
  token('doppler-token', ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'], 'dp\\.(?:pt|st|sa|ct|scim|audit)\\.', `[${ALNUM}]{40,}`),
  token('pulumi-token', ['pul-'], 'pul-', '[0-9a-f]{40,}'),
  token('terraform-cloud-token', ['.atlasv1.'], `[${ALNUM}]{14}\\.atlasv1\\.`, `[${B64URL}=]{60,}`),
  token('postman-key', ['pmak-'], 'PMAK-', '[0-9a-f]{24}-[0-9a-f]{34,}'),
  token('planetscale-token', ['pscale_'], 'pscale_(?:pw|tkn|oauth)_', `[${B64URL}.=]{32,}`),
  token('supabase-token', ['sbp_', 'sbs_', 'sb_secret_'], '(?:sb[ps]_|sb_secret_)', `[${B64URL}]{30,}`),
  token('netlify-token', ['nfp_'], 'nfp_', `[${ALNUM}]{36,}`),
  token('mapbox-secret-token', ['sk.eyj'], 'sk\\.eyJ', `[${B64URL}]+\\.[${B64URL}]{20,}`),
  token('age-secret-key', ['age-secret-key-1'], 'AGE-SECRET-KEY-1', '[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}'),
];
