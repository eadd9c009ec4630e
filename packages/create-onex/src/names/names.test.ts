import { describe, expect, it } from 'vitest';
import { InvalidNameError, nodeNames, toKebabCase, validateDomain } from './names.js';

function reason(name: string): string {
  try {
    nodeNames(name);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidNameError);
    return (error as InvalidNameError).message;
  }
  throw new Error(`'${name}' was accepted`);
}

describe('nodeNames', () => {
  it('derives file, class, value and constant names from a kebab-case name', () => {
    expect(nodeNames('price-quote')).toEqual({ kebab: 'price-quote', pascal: 'PriceQuote', camel: 'priceQuote', constant: 'PRICE_QUOTE' });
    expect(nodeNames('stats')).toEqual({ kebab: 'stats', pascal: 'Stats', camel: 'stats', constant: 'STATS' });
    expect(nodeNames('order-2-total').pascal).toBe('Order2Total');
  });

  it('refuses bad names with the reason', () => {
    expect(reason('')).toBe("Invalid node name '': it is empty; give a kebab-case name such as `order-total`");
    expect(reason('../x')).toContain('it must be a plain name, not a path');
    expect(reason('a/b')).toContain('not a path');
    expect(reason('..')).toContain('not a path');
    expect(reason('2fa')).toContain('it must start with a letter');
    expect(reason('PriceQuote')).toBe("Invalid node name 'PriceQuote': it must be lowercase kebab-case (did you mean 'price-quote'?)");
    expect(reason('price_quote')).toContain("did you mean 'price-quote'?");
    expect(reason('price--quote')).toContain('kebab-case');
    expect(reason('price-')).toContain('kebab-case');
    expect(reason('delete')).toContain('reserved word');
    expect(reason('class')).toContain('reserved word');
    expect(reason('con')).toContain('reserved word');
    expect(reason('a'.repeat(41))).toContain('the limit is 40');
  });

  it('validates domains the same way', () => {
    expect(validateDomain('acme')).toBe('acme');
    expect(() => validateDomain('Acme')).toThrow("Invalid domain 'Acme': it must be lowercase kebab-case (did you mean 'acme'?)");
  });

  it('suggests kebab-case spellings', () => {
    expect(toKebabCase('OrderTotal')).toBe('order-total');
    expect(toKebabCase('HTTPServer')).toBe('http-server');
    expect(toKebabCase('  my node ')).toBe('my-node');
  });
});
