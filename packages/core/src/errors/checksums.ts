// The check-digit tests that tell a real card number or IBAN from a run of digits that merely looks like one:
// the sanitizer masks a candidate only when its checksum holds, so order numbers and timestamps stay readable.

/**
 * Whether the digits of `text` (separators ignored) pass the Luhn check (ISO/IEC 7812-1), as every payment card
 * number does.
 *
 * @example
 * ```ts
 * passesLuhn('4111 1111 1111 1111'); // true
 * passesLuhn('4111 1111 1111 1112'); // false
 * ```
 */
export function passesLuhn(text: string): boolean {
  let sum = 0;
  let digits = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) continue;
    const doubled = digits % 2 === 1 ? code * 2 : code;
    sum += doubled > 9 ? doubled - 9 : doubled;
    digits++;
  }
  return digits > 0 && sum % 10 === 0;
}

/**
 * Whether `text` (spaces ignored) is an IBAN whose check digits hold: ISO 13616 mod-97, the letters counted as
 * 10–35. The country's length is not checked: a wrong-length IBAN that passes mod-97 is still masked.
 *
 * @example
 * ```ts
 * passesIbanChecksum('DE89 3704 0044 0532 0130 00'); // true
 * passesIbanChecksum('DE88 3704 0044 0532 0130 00'); // false
 * ```
 */
export function passesIbanChecksum(text: string): boolean {
  const iban = text.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const rearranged = `${iban.slice(4)}${iban.slice(0, 4)}`;
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    // Digits add one decimal place, letters (A = 10 … Z = 35) two.
    remainder = code <= 57 ? (remainder * 10 + (code - 48)) % 97 : (remainder * 100 + (code - 55)) % 97;
  }
  return remainder === 1;
}
