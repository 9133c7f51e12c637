#!/usr/bin/env bash
# Copy the browser libraries the workbench uses into api/service/static/vendor, with their licences,
# so that the service (and a `pip install`) serves them itself: nothing loads from the internet.
# Versions are pinned in web/package.json and web/package-lock.json; run after changing them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$here/../api/service/static/vendor/echarts"
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts 2>/dev/null || npm install --no-audit --no-fund --ignore-scripts
mkdir -p "$target"
src="$here/node_modules/echarts"
cp "$src/dist/echarts.min.js" "$src/LICENSE" "$src/NOTICE" "$target/"
cp "$src/licenses/LICENSE-d3" "$target/LICENSE-d3"
node -e "const p=require('$src/package.json'); console.log(p.name+' '+p.version+' ('+p.license+')')" > "$target/VERSION"
cat "$target/VERSION"
