import assert from 'node:assert/strict';

/** Tag balance, quoted attributes, escaped ampersands: enough to catch a broken SVG string builder. */
export function assertWellFormedSvg(svg: string, name: string): void {
  // ECharts puts its hover styles in a CDATA block; its text is CSS, not markup.
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
  assert.match(body, /^<svg\b[^>]*\sxmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${name}: root element`);
  assert.doesNotMatch(body, /&(?!(amp|lt|gt|quot|apos|#\d+);)/, `${name}: unescaped &`);
  const stack: string[] = [];
  for (const [tag, close, tagName, attrs, selfClose] of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g)) {
    if (close) assert.equal(stack.pop(), tagName, `${name}: </${tagName}> closes another element`);
    else if (!selfClose) stack.push(tagName);
    assert.ok(!/[<>]/.test(attrs), `${name}: bad attributes in ${tag}`);
  }
  assert.deepEqual(stack, [], `${name}: unclosed elements`);
  const tags = body.match(/<[^>]*>/g) ?? [];
  const parsed = [...body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g)].length;
  assert.equal(parsed, tags.length, `${name}: some tags do not parse`);
  assert.doesNotMatch(body, /NaN|undefined|Infinity/, `${name}: non-numbers in the drawing`);
}
