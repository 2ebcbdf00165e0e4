/** Fault injection on MariaDB (MySQL): see test/support/faults-suite.ts. */
import { faultSuite } from './support/faults-suite';

describe('faults on MariaDB', () => faultSuite('mysql'));
