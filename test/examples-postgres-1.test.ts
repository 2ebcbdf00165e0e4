/** Every example of migrations-examples/ through the CLI (see test/support/examples-suite.ts), part 1 of 2 on postgres. */
import { defineExampleTests } from './support/examples-suite';

defineExampleTests(['postgres'], { guard: true, part: [0, 2] });
