export * from './format.js';
export * from './context.js';
export * from './encode.js';
export * from './decode.js';
export * from './text.js';
