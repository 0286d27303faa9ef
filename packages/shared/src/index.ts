export * from './agents.js';
export * from './api.js';
export * from './auth.js';
export * from './errors.js';
export * from './pagination.js';
export * from './tasks.js';
export * from './users.js';
