// The exchange ids of the pinned ccxt (npm 4.5.84), known without loading ccxt (which takes most of a second):
// what `coinlake repair` may refetch through ccxt.ohlcv. ccxt-exchange-ids.test.ts keeps it equal to ccxt.exchanges.

/** Every exchange id ccxt knows, sorted. */
export const CCXT_EXCHANGE_IDS: readonly string[] = [
  'alpaca', 'apex', 'aster', 'backpack', 'bequant', 'bigone', 'binance', 'binancecoinm', 'binanceus', 'binanceusdm',
  'bingx', 'bit2c', 'bitbank', 'bitbns', 'bitfinex', 'bitflyer', 'bitget', 'bithumb', 'bitopro', 'bitrue', 'bitso',
  'bitstamp', 'bitteam', 'bittrade', 'bitvavo', 'blockchaincom', 'blofin', 'btcbox', 'btcmarkets', 'btcturk', 'btse',
  'bullish', 'bybit', 'bybiteu', 'bybitid', 'bydfi', 'cex', 'coinbase', 'coinbaseexchange', 'coinbaseinternational',
  'coincheck', 'coinex', 'coinmate', 'coinone', 'coinsph', 'coinspot', 'cryptocom', 'cryptomus', 'deepcoin', 'delta',
  'deribit', 'derive', 'digifinex', 'dydx', 'extended', 'fmfwio', 'foxbit', 'gate', 'gateeu', 'gemini', 'grvt',
  'hashkey', 'hibachi', 'hitbtc', 'hollaex', 'htx', 'hyperliquid', 'independentreserve', 'indodax', 'kraken',
  'krakenfutures', 'kucoin', 'kucoinfutures', 'latoken', 'lbank', 'lighter', 'luno', 'mercado', 'mexc', 'modetrade',
  'mudrex', 'myokx', 'nado', 'ndax', 'okx', 'okxus', 'onetrading', 'p2b', 'pacifica', 'paradex', 'paymium', 'phemex',
  'poloniex', 'revolutx', 'tokocrypto', 'toobit', 'upbit', 'weex', 'whitebit', 'woo', 'woofipro', 'xt', 'zaif',
  'zebpay',
];
