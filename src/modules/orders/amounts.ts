// Amounts are stored as integer micro-units (1e-6 of the currency unit) so that the daily-limit sum is exact on
// both engines.
export const toMicros = (amount: number | null | undefined): number | null =>
  amount === null || amount === undefined ? null : Math.round(amount * 1_000_000);
export const fromMicros = (m: unknown): number | null => (m === null || m === undefined ? null : Number(m) / 1_000_000);
