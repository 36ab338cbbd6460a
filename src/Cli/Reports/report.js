// Draws the host memory maps of a FastRmp report from the JSON in #fastrmp-data (see MapEncoding.cs for the format).
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('fastrmp-data').textContent);
  var report = { runs: [], diffs: [], errors: [] };
  window.fastrmpReport = report;

  function rgb(hex) {
    var v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  function decode(map) {
    var text = atob(map.data);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    var states = new Uint8Array(map.regions);
    if (map.encoding === 'nibbles') {
      for (var r = 0; r < map.regions; r++) states[r] = (r & 1) ? bytes[r >> 1] >> 4 : bytes[r >> 1] & 15;
      return states;
    }
    var pos = 0, at = 0;
    while (at < bytes.length) {
      var value = 0, scale = 1, b;
      do { b = bytes[at++]; value += (b & 127) * scale; scale *= 128; } while (b & 128);
      var length = Math.floor(value / 8);
      if (length < 1 || pos + length > states.length) throw new Error('map data overruns its ' + states.length + ' regions');
      states.fill(value % 8, pos, pos + length);
      pos += length;
    }
    if (pos !== states.length) throw new Error('map data covers ' + pos + ' of ' + states.length + ' regions');
    return states;
  }

  function draw(canvas, states, columns, cell, palette) {
    var rows = Math.ceil(states.length / columns);
    var colors = (palette || data.colors).map(rgb);
    var image = new ImageData(columns, rows);
    for (var r = 0; r < states.length; r++) {
      var c = colors[states[r]], o = r * 4;
      image.data[o] = c[0]; image.data[o + 1] = c[1]; image.data[o + 2] = c[2]; image.data[o + 3] = 255;
    }
    var small = document.createElement('canvas');
    small.width = columns; small.height = rows;
    small.getContext('2d').putImageData(image, 0, 0);
    canvas.width = columns * cell; canvas.height = rows * cell;
    var ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, columns * cell, rows * cell);
    if (cell >= 6) {
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      for (var x = 1; x < columns; x++) ctx.fillRect(x * cell, 0, 1, rows * cell);
      for (var y = 1; y < rows; y++) ctx.fillRect(0, y * cell, columns * cell, 1);
    }
  }

  var tip = document.getElementById('tip');
  function hex(n) { return '0x' + n.toString(16); }
  function size(bytes) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], u = 0;
    while (bytes >= 1024 && u < units.length - 1) { bytes /= 1024; u++; }
    return (Math.round(bytes * 10) / 10) + ' ' + units[u];
  }

  function hover(canvas, states, run, columns, cell) {
    canvas.addEventListener('mousemove', function (e) {
      var box = canvas.getBoundingClientRect();
      var scale = canvas.width / box.width;
      var column = Math.floor((e.clientX - box.left) * scale / cell);
      var row = Math.floor((e.clientY - box.top) * scale / cell);
      var region = row * columns + column;
      if (column < 0 || column >= columns || region < 0 || region >= states.length) { tip.hidden = true; return; }
      var start = region * 2097152;
      tip.textContent = run.label + ': region ' + region + ', ' + hex(start) + '\u2013' + hex(start + 2097152) +
        ' (' + size(start) + '): ' + data.names[states[region]];
      tip.style.left = (e.clientX + 14) + 'px';
      tip.style.top = (e.clientY + 14) + 'px';
      tip.hidden = false;
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
  }

  var canvases = document.querySelectorAll('canvas.map');
  for (var i = 0; i < canvases.length; i++) {
    var canvas = canvases[i];
    var run = data.runs[Number(canvas.dataset.run)];
    try {
      var states = decode(run.map);
      draw(canvas, states, data.columns, data.cell);
      hover(canvas, states, run, data.columns, data.cell);
      var zoom = canvas.parentNode.querySelector('canvas.zoom');
      if (zoom) {
        var first = states.subarray(0, Math.min(states.length, Number(zoom.dataset.regions)));
        draw(zoom, first, data.zoomColumns, data.zoomCell);
        hover(zoom, first, run, data.zoomColumns, data.zoomCell);
      }
      var counts = [0, 0, 0, 0, 0];
      for (var r = 0; r < states.length; r++) counts[states[r]]++;
      report.runs.push({ run: Number(canvas.dataset.run), label: run.label, regions: states.length, counts: counts });
    } catch (e) {
      report.errors.push(run.label + ': ' + e.message);
      console.error('fastrmp report: ' + run.label + ': ' + e.message);
    }
  }
  // Difference maps: guest memory, one cell per 2 MiB of guest physical addresses, 1 where the run disagreed with the trace.
  var diffs = document.querySelectorAll('canvas.diff');
  for (var d = 0; d < diffs.length; d++) {
    var diffCanvas = diffs[d];
    var diffRun = data.runs[Number(diffCanvas.dataset.run)];
    try {
      var cells = decode(diffRun.diff);
      draw(diffCanvas, cells, data.columns, data.cell, data.diffColors);
      var differing = 0;
      for (var c = 0; c < cells.length; c++) if (cells[c] === 1) differing++;
      diffCanvas.addEventListener('mousemove', (function (canvas, states, run) {
        return function (e) {
          var box = canvas.getBoundingClientRect();
          var scale = canvas.width / box.width;
          var region = Math.floor((e.clientY - box.top) * scale / data.cell) * data.columns + Math.floor((e.clientX - box.left) * scale / data.cell);
          if (region < 0 || region >= states.length) { tip.hidden = true; return; }
          tip.textContent = run.label + ': guest ' + hex(region * 2097152) + '\u2013' + hex((region + 1) * 2097152) + ': ' +
            (states[region] === 1 ? 'disagrees with the trace' : 'agrees (or no decision)');
          tip.style.left = (e.clientX + 14) + 'px';
          tip.style.top = (e.clientY + 14) + 'px';
          tip.hidden = false;
        };
      })(diffCanvas, cells, diffRun));
      diffCanvas.addEventListener('mouseleave', function () { tip.hidden = true; });
      report.diffs.push({ run: Number(diffCanvas.dataset.run), regions: cells.length, differing: differing });
    } catch (e) {
      report.errors.push(diffRun.label + ' (difference map): ' + e.message);
      console.error('fastrmp report: ' + diffRun.label + ' (difference map): ' + e.message);
    }
  }
  document.documentElement.dataset.rendered = String(report.runs.length);
})();
