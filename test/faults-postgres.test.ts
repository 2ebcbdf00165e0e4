/** Fault injection on PostgreSQL: see test/support/faults-suite.ts. */
import { faultSuite } from './support/faults-suite';

describe('faults on PostgreSQL', () => faultSuite('postgres'));
