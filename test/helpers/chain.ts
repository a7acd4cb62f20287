// A real EVM chain in the test process (ganache) with a real ERC-20 compiled by solc-js and deployed with ethers.
import ganache from 'ganache';
import solc from 'solc';
import { ContractFactory, JsonRpcProvider, Wallet, parseUnits, type Contract } from 'ethers';

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract TestUSDT {
  string public constant name = "Test USDT";
  string public constant symbol = "USDT";
  uint8 public constant decimals = 6;
  mapping(address => uint256) public balanceOf;
  event Transfer(address indexed from, address indexed to, uint256 value);
  constructor(uint256 supply) { balanceOf[msg.sender] = supply; emit Transfer(address(0), msg.sender, supply); }
  function transfer(address to, uint256 value) external returns (bool) {
    require(balanceOf[msg.sender] >= value, "insufficient balance");
    balanceOf[msg.sender] -= value;
    balanceOf[to] += value;
    emit Transfer(msg.sender, to, value);
    return true;
  }
}`;

let compiled: { abi: unknown[]; bytecode: string } | undefined;
function compile() {
  if (compiled) return compiled;
  const out = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: 'Solidity',
        sources: { 'TestUSDT.sol': { content: SOURCE } },
        settings: { outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
      }),
    ),
  );
  const c = out.contracts['TestUSDT.sol'].TestUSDT;
  compiled = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
  return compiled;
}

export interface TestChain {
  rpcUrl: string;
  provider: JsonRpcProvider;
  payer: Wallet;
  token: Contract;
  tokenAddress: string;
  otherToken: Contract;
  /** Sends `amount` (decimal USDT) from the payer to `to`; resolves with the mined tx hash. */
  pay(to: string, amount: string, token?: Contract): Promise<string>;
  /** A transaction that reverts on chain (mined with status 0). */
  reverted(to: string): Promise<string>;
  /** A transaction sent while mining is paused: its receipt is null until `resume()`. */
  pending(to: string, amount: string): Promise<{ hash: string; resume(): Promise<void> }>;
  close(): Promise<void>;
}

export async function startChain(): Promise<TestChain> {
  const server = ganache.server({
    logging: { quiet: true },
    chain: { chainId: 3338 },
    wallet: { deterministic: true, totalAccounts: 2 },
    miner: { instamine: 'eager' },
  });
  await server.listen(0, '127.0.0.1');
  const port = (server.address() as { port: number }).port;
  const rpcUrl = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  const accounts = server.provider.getInitialAccounts();
  const [first] = Object.values(accounts) as Array<{ secretKey: string }>;
  const payer = new Wallet(first!.secretKey, provider);
  const { abi, bytecode } = compile();
  const factory = new ContractFactory(abi as never, bytecode, payer);
  const token = (await (await factory.deploy(parseUnits('1000000', 6))).waitForDeployment()) as unknown as Contract;
  const otherToken = (await (
    await factory.deploy(parseUnits('1000000', 6))
  ).waitForDeployment()) as unknown as Contract;
  const tokenAddress = await token.getAddress();

  const pay = async (to: string, amount: string, t: Contract = token) => {
    const tx = await (
      t.getFunction('transfer') as (to: string, v: bigint) => Promise<{ hash: string; wait(): Promise<unknown> }>
    )(to, parseUnits(amount, 6));
    await tx.wait();
    return tx.hash;
  };
  return {
    rpcUrl,
    provider,
    payer,
    token,
    tokenAddress,
    otherToken,
    pay,
    reverted: async (to) => {
      const data = token.interface.encodeFunctionData('transfer', [to, parseUnits('999999999', 6)]);
      const tx = await payer.sendTransaction({ to: tokenAddress, data, gasLimit: 200_000 });
      const receipt = await provider.getTransactionReceipt(tx.hash);
      if (!receipt || receipt.status !== 0) throw new Error('expected a reverted receipt');
      return tx.hash;
    },
    pending: async (to, amount) => {
      await provider.send('miner_stop', []);
      const data = token.interface.encodeFunctionData('transfer', [to, parseUnits(amount, 6)]);
      const tx = await payer.sendTransaction({ to: tokenAddress, data, gasLimit: 200_000 });
      return {
        hash: tx.hash,
        resume: async () => {
          await provider.send('miner_start', []);
          await tx.wait();
        },
      };
    },
    close: async () => {
      provider.destroy();
      await server.close();
    },
  };
}
