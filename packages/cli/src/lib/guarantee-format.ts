import { Errors } from '@oclif/core';
import type { GuaranteeAmounts, GuaranteeStatus } from '@trainyard/shared';
import { formatGuaranteeAmounts } from '@trainyard/shared/constants';
import type { View } from './output.js';
import { renderTable } from './table.js';

/** `yard queue`, `yard quota show`, `yard quota guarantee list`: guaranteed, in use, borrowed and lent per group and pool. */
const limitText = (limits: GuaranteeAmounts, none: string) => (limits.gpus === null && limits.cpu === null ? none : formatGuaranteeAmounts(limits));

/** `yard quota guarantee list`'s rows (-o csv, name, --fields); `yard queue` and `quota show` print the same table. */
export const guaranteesView: View<GuaranteeStatus> = {
  name: (g) => `${g.group}@${g.pool}`,
  columns: [
    { header: 'GROUP', field: 'group', get: (g) => g.group },
    { header: 'POOL', field: 'pool', get: (g) => g.pool },
    { header: 'COHORT', field: 'cohort', get: (g) => g.cohort ?? '(top)', raw: (g) => g.cohort },
    { header: 'GUARANTEED', field: 'guaranteed', get: (g) => formatGuaranteeAmounts(g.guaranteed) },
    { header: 'IN USE', field: 'inUse', get: (g) => formatGuaranteeAmounts(g.inUse) },
    { header: 'BORROWED', field: 'borrowed', get: (g) => formatGuaranteeAmounts(g.borrowed) },
    { header: 'LENT', field: 'lent', get: (g) => formatGuaranteeAmounts(g.lent) },
    { header: 'BORROW LIMIT', field: 'borrowingLimit', get: (g) => limitText(g.borrowingLimit, 'any idle') },
    { header: 'LEND LIMIT', field: 'lendingLimit', get: (g) => limitText(g.lendingLimit, 'all idle') },
  ],
};

/** `yard queue`, `yard quota show`, `yard quota guarantee list`: guaranteed, in use, borrowed and lent per group and pool. */
export function guaranteesTable(items: GuaranteeStatus[], colour = false): string {
  return renderTable(items, guaranteesView.columns, colour);
}

/** `gpus=2,cpu=8` (`none` for a resource: no limit) as the API's amounts. */
export function amountsFrom(flag: string, value: string | undefined): Partial<GuaranteeAmounts> | undefined {
  if (value === undefined) return undefined;
  const amounts: Partial<GuaranteeAmounts> = {};
  for (const part of value.split(',')) {
    const match = /^(gpus|cpu)=(none|\d{1,9}(?:\.\d{1,3})?)$/.exec(part.trim());
    if (!match) throw new Errors.CLIError(`--${flag} must be gpus=N, cpu=N or both (gpus=2,cpu=16; none for no limit), got '${value}'`, { exit: 2 });
    amounts[match[1] as 'gpus' | 'cpu'] = match[2] === 'none' ? null : Number(match[2]);
  }
  return amounts;
}
