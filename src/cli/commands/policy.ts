import type { Handler } from '../result.js';
import { usage } from '../../errors.js';

export const run: Handler = async () => {
  throw usage('policy needs a subcommand: validate, plan or apply (kmsctl policy --help)');
};
