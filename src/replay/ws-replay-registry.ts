// The websocket feeds of the sources on the websocket replay server, one line each.
import { binanceWsFrames } from '../sources/binance/binance-ws-replay.ts';
import { coincapWsFrames } from '../sources/coincap/coincap-ws-replay.ts';
import type { WsFrameSource } from './ws-replay.ts';

export const WS_FRAME_SOURCES: WsFrameSource[] = [coincapWsFrames, binanceWsFrames];
