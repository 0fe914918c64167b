import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCodes } from '../../src/errors.ts';
import { compileSql, SqlCompileError } from '../../src/commands/sql.ts';

/** Asserts the compiled text and parameter names in one go. */
function compilesTo(sql: string, text: string, parameters: string[]): void {
  const compiled = compileSql(sql);
  assert.equal(compiled.text, text);
  assert.deepEqual(compiled.parameters, parameters);
}

function failsAt(sql: string, offset: number, message: RegExp): void {
  assert.throws(
    () => compileSql(sql),
    (error: unknown) => {
      assert.ok(error instanceof SqlCompileError, String(error));
      assert.equal(error.code, ErrorCodes.REGISTRY_INVALID);
      assert.equal(error.retryable, false);
      assert.equal(error.offset, offset);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('compileSql', () => {
  test('numbers parameters by first use and reuses the number when a name repeats', () => {
    compilesTo(
      'UPDATE t SET a = :a, b = :b WHERE a <> :a OR c = :c',
      'UPDATE t SET a = $1, b = $2 WHERE a <> $1 OR c = $3',
      ['a', 'b', 'c'],
    );
  });

  test('records where each parameter is first used', () => {
    const compiled = compileSql('SELECT :x,\n :y, :x');
    assert.deepEqual(compiled.parameterOffsets, [7, 12]);
  });

  test('rewrites a parameter followed by a cast and leaves the cast alone', () => {
    compilesTo('SELECT :id::bigint, x::text, :j::jsonb', 'SELECT $1::bigint, x::text, $2::jsonb', ['id', 'j']);
    compilesTo("SELECT 'a'::text, (:v)::int[]", "SELECT 'a'::text, ($1)::int[]", ['v']);
  });

  test('ends a parameter name at the first character that cannot be in one', () => {
    compilesTo('VALUES (:a,:b_2),(:c)', 'VALUES ($1,$2),($3)', ['a', 'b_2', 'c']);
    compilesTo('WHERE x=:Name;', 'WHERE x=$1;', ['Name']);
  });

  test('leaves string literals alone, including doubled quotes', () => {
    compilesTo("SELECT ':no', 'it''s :no', '' , :yes", "SELECT ':no', 'it''s :no', '' , $1", ['yes']);
  });

  test('treats a backslash as an escape only inside E strings', () => {
    compilesTo("SELECT E'it\\'s :no', e'\\\\', :yes", "SELECT E'it\\'s :no', e'\\\\', $1", ['yes']);
    // `date'...'` is a typed literal, not an E string: its backslash is an ordinary character.
    compilesTo("SELECT date'2024-01-01\\', :d", "SELECT date'2024-01-01\\', $1", ['d']);
  });

  test('leaves quoted identifiers alone, including doubled quotes', () => {
    compilesTo('SELECT "weird:col", "a"":b" FROM t WHERE k = :k', 'SELECT "weird:col", "a"":b" FROM t WHERE k = $1', ['k']);
  });

  test('leaves dollar-quoted strings alone, with and without a tag', () => {
    compilesTo('SELECT $$ :no $$, :yes', 'SELECT $$ :no $$, $1', ['yes']);
    compilesTo('SELECT $fn$ :no $$ still :no $fn$, :yes', 'SELECT $fn$ :no $$ still :no $fn$, $1', ['yes']);
    compilesTo('SELECT $é$ :no $é$, :yes', 'SELECT $é$ :no $é$, $1', ['yes']);
  });

  test('reads a $ inside an identifier as part of it, not as a dollar quote', () => {
    compilesTo('SELECT col$ FROM t$x WHERE k = :k', 'SELECT col$ FROM t$x WHERE k = $1', ['k']);
  });

  test('leaves line comments alone up to the end of the line', () => {
    compilesTo('SELECT :a -- not :b\n, :c -- :d', 'SELECT $1 -- not :b\n, $2 -- :d', ['a', 'c']);
  });

  test('leaves nested block comments alone', () => {
    compilesTo('SELECT /* outer /* inner :no */ still :no */ :yes', 'SELECT /* outer /* inner :no */ still :no */ $1', ['yes']);
  });

  test('leaves := , array slices and a lone colon alone', () => {
    compilesTo('SELECT f(a := :v), arr[1:2], arr[lo:hi], arr[:n]', 'SELECT f(a := $1), arr[1:2], arr[lo:hi], arr[$2]', ['v', 'n']);
    compilesTo('SELECT 1 :', 'SELECT 1 :', []);
  });

  test('accepts a trailing semicolon and trailing comments', () => {
    compilesTo('DELETE FROM t WHERE id = :id; -- done\n', 'DELETE FROM t WHERE id = $1; -- done\n', ['id']);
  });

  test('compiles SQL without parameters unchanged', () => {
    compilesTo('SELECT now()', 'SELECT now()', []);
  });

  test('rejects a second statement, which PREPARE would otherwise run', () => {
    failsAt('SELECT 1; DELETE FROM users', 10, /only one statement/);
    failsAt("SELECT ';'; SELECT 2", 12, /only one statement/);
  });

  test('rejects positional $1 parameters, which would collide with the numbering', () => {
    failsAt('SELECT :a, $1', 11, /positional parameters/);
  });

  test('rejects SQL that is only whitespace and comments', () => {
    failsAt('  -- nothing\n /* here */ ', 0, /no statement/);
    failsAt(';', 0, /no statement/);
  });

  test('rejects unterminated literals and comments, pointing at where they start', () => {
    failsAt("SELECT 'abc", 7, /unterminated string literal/);
    failsAt("SELECT E'abc\\'", 8, /unterminated string literal/);
    failsAt('SELECT "abc', 7, /unterminated quoted identifier/);
    failsAt('SELECT $tag$ abc $other$', 7, /unterminated dollar-quoted string \(missing closing \$tag\$\)/);
    failsAt('SELECT /* a /* b */', 7, /unterminated \/\* comment/);
  });
});
