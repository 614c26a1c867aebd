import { segParityOn } from './parity_suite';

segParityOn('cpu');
