/** The explorer's HTML: a shell with four views; `page.js` fills them from the JSON endpoints. */
export const EXPLORER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>userip profile explorer</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.45 Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #28425f; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  nav button { background: none; border: 0; color: #cfe0f3; font-size: 14px; padding: 6px 10px; cursor: pointer; border-radius: 4px; }
  nav button.active { background: #fff; color: #28425f; font-weight: 600; }
  main { padding: 16px 20px; max-width: 1240px; }
  section[hidden] { display: none; }
  h2 { font-size: 16px; margin: 22px 0 8px; }
  table { border-collapse: collapse; background: #fff; margin: 6px 0 14px; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
  th { background: #f0f3f6; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; height: 10px; background: #4477aa; vertical-align: middle; margin-right: 6px; }
  .muted { color: #777; }
  .note { background: #fff8e0; border: 1px solid #e8d9a0; padding: 6px 10px; margin: 8px 0; }
  .code { display: inline-block; min-width: 22px; padding: 2px 8px; border-radius: 10px; background: #4477aa; color: #fff; font-weight: 600; text-align: center; }
  .chart { background: #fff; border: 1px solid #e3e3e3; margin: 8px 0 16px; max-width: 100%; overflow-x: auto; }
  form { margin: 6px 0 12px; }
  input[type=search] { font-size: 14px; padding: 5px 8px; width: 220px; }
  a { color: #28589c; }
</style>
</head>
<body>
<header>
  <h1>userip profile explorer</h1>
  <nav>
    <button data-view="codebooks">Codebooks</button>
    <button data-view="user">User</button>
    <button data-view="report">Comparison report</button>
    <button data-view="tuning">Tuning</button>
  </nav>
  <span id="run" class="muted"></span>
</header>
<main>
  <section id="view-codebooks"></section>
  <section id="view-user">
    <form id="user-form"><label>User id <input type="search" id="user-id" name="user" autocomplete="off" required></label> <button type="submit">Show</button></form>
    <div id="user-result"></div>
  </section>
  <section id="view-report"></section>
  <section id="view-tuning"></section>
</main>
<script src="echarts.min.js"></script>
<script type="module" src="serve/explorer/page.js"></script>
</body>
</html>
`;
