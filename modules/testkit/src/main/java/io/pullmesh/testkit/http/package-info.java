/**
 * A raw HTTP/1.1 client over a plain socket, for tests that must see the exact wire format (chunked or not,
 * which headers, how many body bytes before a close or a stall) that higher-level clients hide.
 */
package io.pullmesh.testkit.http;
