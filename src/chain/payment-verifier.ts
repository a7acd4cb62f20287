// Verifies an ERC-20 payment over EVM JSON-RPC: reads the transaction receipt and looks for the Transfer log
// with the expected token, sender, recipient and raw amount. Outcomes map to the documented codes:
// RPC failure -> PAYMENT_RPC_ERROR (502), no receipt -> PAYMENT_NOT_MINED (409), status != 1 ->
// PAYMENT_TX_FAILED (402), no matching Transfer -> PAYMENT_TRANSFER_NOT_FOUND (400).
import { AbiCoder, getAddress, id as topicId, JsonRpcProvider, Network, type TransactionReceipt } from 'ethers';
import { ApiError } from '../errors.ts';

export const TRANSFER_TOPIC = topicId('Transfer(address,address,uint256)');

export interface TransferExpectation {
  txHash: string;
  token: string;
  to: string;
  from?: string | null;
  rawAmount: bigint;
}

export interface VerifiedTransfer {
  blockNumber: number;
  logIndex: number;
  from: string;
  to: string;
  rawAmount: bigint;
}

const topicAddress = (topic: string) => getAddress(`0x${topic.slice(26)}`);

export async function fetchReceipt(
  rpcUrl: string,
  txHash: string,
  timeoutMs: number,
): Promise<TransactionReceipt | null> {
  // A static network stops ethers from probing (and retrying) chain detection against a dead RPC.
  const provider = new JsonRpcProvider(rpcUrl, Network.from(1), { staticNetwork: true, batchMaxCount: 1 });
  try {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref(),
    );
    return await Promise.race([provider.getTransactionReceipt(txHash), timeout]);
  } catch (err) {
    throw new ApiError(
      'PAYMENT_RPC_ERROR',
      `The payment RPC failed: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`,
    );
  } finally {
    provider.destroy();
  }
}

export function findTransfer(receipt: TransactionReceipt, want: Omit<TransferExpectation, 'txHash'>): VerifiedTransfer {
  if (receipt.status !== 1)
    throw new ApiError('PAYMENT_TX_FAILED', 'The payment transaction reverted.', { status: receipt.status });
  const token = getAddress(want.token);
  const to = getAddress(want.to);
  const from = want.from ? getAddress(want.from) : null;
  for (const log of receipt.logs) {
    if (getAddress(log.address) !== token || log.topics[0] !== TRANSFER_TOPIC || log.topics.length !== 3) continue;
    const logFrom = topicAddress(log.topics[1]!);
    const logTo = topicAddress(log.topics[2]!);
    const [value] = AbiCoder.defaultAbiCoder().decode(['uint256'], log.data) as unknown as [bigint];
    if (logTo === to && (!from || logFrom === from) && value === want.rawAmount) {
      return { blockNumber: receipt.blockNumber, logIndex: log.index, from: logFrom, to: logTo, rawAmount: value };
    }
  }
  throw new ApiError(
    'PAYMENT_TRANSFER_NOT_FOUND',
    'No Transfer of the expected token, sender, recipient and amount is in the transaction.',
    {
      token,
      to,
      from,
      rawAmount: want.rawAmount.toString(),
    },
  );
}

export async function verifyTransfer(
  rpcUrl: string,
  want: TransferExpectation,
  timeoutMs: number,
): Promise<VerifiedTransfer> {
  const receipt = await fetchReceipt(rpcUrl, want.txHash, timeoutMs);
  if (!receipt) throw new ApiError('PAYMENT_NOT_MINED', 'The payment transaction is not mined yet: retry once it is.');
  return findTransfer(receipt, want);
}
