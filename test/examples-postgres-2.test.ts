/** Every example of migrations-examples/ through the CLI (see test/support/examples-suite.ts), part 2 of 2 on postgres. */
import { defineExampleTests } from './support/examples-suite';

defineExampleTests(['postgres'], { guard: false, part: [1, 2] });
