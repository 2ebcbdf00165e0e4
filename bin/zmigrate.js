#!/usr/bin/env node
'use strict';
// The runner's memory. A backfill's batch objects live across their round trips, so they survive scavenges;
// V8 answers by doubling the young generation (up to 16 MB per semi-space) and lets the promoted garbage grow
// the old generation to several times its live size (about 13 MB) before a full collection. Together that made
// a long backfill's runner 25-45 MB larger (10M rows: 113 MB peak, 82 MB with these flags). Keeping the young
// generation at its first size and collecting the old one once it has grown by a fifth costs more, short
// collections: 0.57 s of pauses in that 47 s run.
// Both flags are read whenever the heap would grow, so setting them here, before anything is loaded, takes
// effect (the heap size flags would not: those are fixed when the process starts).
const v8 = require('node:v8');
v8.setFlagsFromString('--semi-space-growth-factor=1');
v8.setFlagsFromString('--heap-growing-percent=20');
require('../dist/cli/compile-cache.js').enableCompileCache();
require('../dist/cli/main.js').main(process.argv.slice(2));
