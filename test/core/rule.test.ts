import { describe, expect, test } from 'vitest';
import { isUsersyncError } from '../../src/core/errors.js';
import { compileRule, equalityDefaults, ruleAttributes } from '../../src/core/rule.js';

const matches = (rule: string, record: Record<string, unknown>) => compileRule(rule).matches(record);

describe('compileRule: operators', () => {
  test('eq and ne compare text ignoring case and surrounding spaces', () => {
    expect(matches('status eq "approved"', { status: 'approved' })).toBe(true);
    expect(matches('status eq "approved"', { status: ' Approved ' })).toBe(true);
    expect(matches('status eq "approved"', { status: 'pending' })).toBe(false);
    expect(matches('status ne "approved"', { status: 'pending' })).toBe(true);
    expect(matches('status ne "approved"', { status: 'APPROVED' })).toBe(false);
  });

  test('attribute names are case-insensitive', () => {
    expect(matches('Status eq "approved"', { STATUS: 'approved' })).toBe(true);
  });

  test('co, sw and ew test parts of the text', () => {
    const row = { email: 'Ada@Example.com' };
    expect(matches('email co "@example"', row)).toBe(true);
    expect(matches('email sw "ada"', row)).toBe(true);
    expect(matches('email ew ".COM"', row)).toBe(true);
    expect(matches('email sw "bob"', row)).toBe(false);
    expect(matches('email co "x"', { email: null })).toBe(false);
  });

  test('gt, ge, lt and le compare numbers as numbers', () => {
    expect(matches('seats gt 5', { seats: 10 })).toBe(true);
    expect(matches('seats gt 5', { seats: 5 })).toBe(false);
    expect(matches('seats ge 5', { seats: 5 })).toBe(true);
    expect(matches('seats lt 5', { seats: 4.5 })).toBe(true);
    expect(matches('seats le 5', { seats: 6 })).toBe(false);
  });

  test('gt on text is lexicographic, which orders ISO dates', () => {
    expect(matches('signup gt "2024-01-01"', { signup: '2024-06-30T10:00:00Z' })).toBe(true);
    expect(matches('signup gt "2024-01-01"', { signup: '2023-12-31' })).toBe(false);
    expect(matches('signup lt "2024-01-01"', { signup: new Date('2023-05-01T00:00:00Z') })).toBe(true);
  });

  test('and, or, not and parentheses combine', () => {
    const rule = 'status eq "approved" and not (role eq "guest")';
    expect(matches(rule, { status: 'approved', role: 'admin' })).toBe(true);
    expect(matches(rule, { status: 'approved', role: 'guest' })).toBe(false);
    expect(matches(rule, { status: 'pending', role: 'admin' })).toBe(false);
    const either = 'plan eq "pro" or plan eq "team"';
    expect(matches(either, { plan: 'team' })).toBe(true);
    expect(matches(either, { plan: 'free' })).toBe(false);
  });

  test('and binds tighter than or', () => {
    const rule = 'a eq 1 or b eq 2 and c eq 3';
    expect(matches(rule, { a: 1, b: 0, c: 0 })).toBe(true);
    expect(matches(rule, { a: 0, b: 2, c: 0 })).toBe(false);
    expect(matches(rule, { a: 0, b: 2, c: 3 })).toBe(true);
  });

  test('pr is true only for a non-empty value', () => {
    expect(matches('phone pr', { phone: '555' })).toBe(true);
    expect(matches('phone pr', { phone: 0 })).toBe(true);
    expect(matches('phone pr', { phone: '' })).toBe(false);
    expect(matches('phone pr', { phone: null })).toBe(false);
    expect(matches('phone pr', {})).toBe(false);
  });

  test('a dotted path reads nested values, as group rules do over custom fields', () => {
    expect(matches('custom.plan eq "pro"', { email: 'a@x.io', custom: { plan: 'Pro' } })).toBe(true);
    expect(matches('custom.plan eq "pro"', { email: 'a@x.io', custom: {} })).toBe(false);
    expect(matches('custom.plan ne "pro"', { email: 'a@x.io' })).toBe(true);
  });
});

describe('compileRule: values from different sources', () => {
  test('a number literal matches CSV text holding that number', () => {
    expect(matches('seats eq 42', { seats: '42' })).toBe(true);
    expect(matches('seats eq 42', { seats: ' 42.0 ' })).toBe(true);
    expect(matches('seats gt 5', { seats: '10' })).toBe(true); // not "10" < "5" as text
    expect(matches('seats eq 42', { seats: 'forty-two' })).toBe(false);
    expect(matches('seats ne 42', { seats: 'forty-two' })).toBe(true);
  });

  test('a text literal matches a number from SQLite', () => {
    expect(matches('zip eq "42"', { zip: 42 })).toBe(true);
    expect(matches('zip sw "4"', { zip: 42 })).toBe(true);
  });

  test('a boolean literal matches true/false text and 1/0 numbers', () => {
    expect(matches('active eq true', { active: true })).toBe(true);
    expect(matches('active eq true', { active: 'TRUE' })).toBe(true);
    expect(matches('active eq true', { active: 1 })).toBe(true);
    expect(matches('active eq false', { active: '0' })).toBe(true);
    expect(matches('active eq true', { active: 'yes' })).toBe(false);
  });

  test('null, a missing column and an empty cell all mean no value', () => {
    for (const record of [{ deleted_at: null }, { deleted_at: '' }, {}]) {
      expect(matches('deleted_at eq null', record)).toBe(true);
      expect(matches('deleted_at ne "x"', record)).toBe(true);
      expect(matches('deleted_at gt 0', record)).toBe(false);
      expect(matches('not (deleted_at eq "x")', record)).toBe(true);
    }
    expect(matches('deleted_at eq null', { deleted_at: '2024-01-01' })).toBe(false);
    expect(matches('deleted_at ne null', { deleted_at: '2024-01-01' })).toBe(true);
  });

  test('matches can be handed around detached from its rule', () => {
    const { matches: detached } = compileRule('plan eq "pro"');
    expect([{ plan: 'pro' }, { plan: 'free' }].filter(detached)).toEqual([{ plan: 'pro' }]);
  });
});

describe('compileRule: errors', () => {
  test.each([
    ['status eq approved', 'is not json'],
    ['status = "x"', 'unexpected token'],
    ['(status eq "x"', "expected ')'"],
    ['status eq "x" and', 'Unexpected token'],
    ['   ', 'the rule is empty'],
    ['emails[type eq "work"]', 'not supported'],
  ])('%s is a config error with the reason and an example', (text, reason) => {
    let error: unknown;
    try {
      compileRule(text);
    } catch (caught) {
      error = caught;
    }
    expect(isUsersyncError(error, 'config.invalid')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(JSON.stringify(text));
    expect(message).toContain(reason);
    expect(message).toContain('status eq "approved"');
  });

  test('the rule keeps its text', () => {
    expect(compileRule('plan eq "pro"').text).toBe('plan eq "pro"');
  });
});

describe('equalityDefaults', () => {
  test('a plain eq gives its column and value', () => {
    expect(equalityDefaults(compileRule('status eq "approved"'))).toEqual({ status: 'approved' });
  });

  test('an and of eqs gives every column, keeping literal types', () => {
    const rule = compileRule('status eq "approved" and (seats eq 3 and active eq true)');
    expect(equalityDefaults(rule)).toEqual({ status: 'approved', seats: 3, active: true });
  });

  test('eq null adds nothing: a new row leaves the column empty', () => {
    expect(equalityDefaults(compileRule('status eq "ok" and deleted_at eq null'))).toEqual({ status: 'ok' });
  });

  test('an or takes its first branch made only of equalities', () => {
    expect(equalityDefaults(compileRule('plan eq "pro" or plan eq "team"'))).toEqual({ plan: 'pro' });
    expect(equalityDefaults(compileRule('seats gt 3 or (status eq "vip" and tier eq 2)'))).toEqual({
      status: 'vip',
      tier: 2,
    });
  });

  test.each([
    'status ne "banned"',
    'seats gt 1 or phone pr',
    'not (role eq "guest")',
    'status eq "ok" and phone pr',
    'seats gt 1',
    'a eq 1 and a eq 2',
    'custom.plan eq "pro"',
  ])('%s has no defaults', (text) => {
    expect(equalityDefaults(compileRule(text))).toBeNull();
  });

  test('a rule not made by compileRule has no defaults', () => {
    expect(equalityDefaults({ text: 'x eq 1', matches: () => true })).toBeNull();
  });
});

describe('ruleAttributes', () => {
  test('lists every attribute a rule reads, once', () => {
    const rule = compileRule('status eq "a" and (plan eq "pro" or not (status eq "b")) and phone pr');
    expect(ruleAttributes(rule).sort()).toEqual(['phone', 'plan', 'status']);
  });
});
