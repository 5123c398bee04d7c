// One warm "Lambda container": imports the bundle once and serves invocations sent over IPC,
// one at a time. Started by tests/local/lambda.ts as `node lambda-child.mjs <bundlePath>`.
//
// Parent -> child: { type: 'invoke', id, event, deadline, awsRequestId, functionName, functionArn }
// Child -> parent: { type: 'ready' } | { type: 'initError', error }
//                  | { type: 'result', id, ok: true, result } | { type: 'result', id, ok: false, error }
import { pathToFileURL } from 'node:url';

const bundlePath = process.argv[2];

// A parent that goes away takes the container with it.
process.on('disconnect', () => process.exit(0));

function describeError(err) {
  if (err instanceof Error) {
    return { name: err.name || 'Error', message: err.message, stack: err.stack };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)) };
}

function send(message) {
  if (!process.connected) return;
  try {
    process.send(message);
  } catch (err) {
    // e.g. a result JSON cannot carry (BigInt, cycles): report it as the invocation's error.
    const error = { name: 'Runtime.ResponseSerializationError', message: String(err && err.message) };
    process.send({ type: 'result', id: message.id, ok: false, error });
  }
}

let handler;
try {
  if (!bundlePath) throw new Error('lambda-child: no bundle path given');
  const mod = await import(pathToFileURL(bundlePath).href);
  handler = mod.handler;
  if (typeof handler !== 'function') {
    const err = new Error(`${bundlePath} does not export a function named handler`);
    err.name = 'Runtime.HandlerNotFound';
    throw err;
  }
} catch (err) {
  const error = describeError(err);
  if (err && (err.code === 'ERR_MODULE_NOT_FOUND' || err instanceof SyntaxError))
    error.name = 'Runtime.ImportModuleError';
  console.error(`INIT_ERROR\t${JSON.stringify({ errorType: error.name, errorMessage: error.message })}`);
  send({ type: 'initError', error });
  // Give the IPC message time to leave before exiting.
  setTimeout(() => process.exit(1), 50);
}

if (handler) {
  process.on('message', async (msg) => {
    if (!msg || msg.type !== 'invoke') return;
    const { id, event, deadline, awsRequestId, functionName, functionArn } = msg;
    const context = {
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: functionArn,
      memoryLimitInMB: '512',
      awsRequestId,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    console.log(`START RequestId: ${awsRequestId} Version: $LATEST`);
    const started = Date.now();
    let reply;
    try {
      const result = await handler(event, context);
      reply = { type: 'result', id, ok: true, result: result === undefined ? null : result };
    } catch (err) {
      const error = describeError(err);
      console.error(
        `${new Date().toISOString()}\t${awsRequestId}\tERROR\tInvoke Error \t${JSON.stringify({ errorType: error.name, errorMessage: error.message })}`,
      );
      reply = { type: 'result', id, ok: false, error };
    }
    console.log(`END RequestId: ${awsRequestId}`);
    console.log(`REPORT RequestId: ${awsRequestId}\tDuration: ${Date.now() - started} ms`);
    // Log lines go out before the result, so the parent has them when the invocation ends.
    process.stdout.write('', () => process.stderr.write('', () => send(reply)));
  });
  send({ type: 'ready' });
}
