/**
 * Value types shared by every pullmesh module: digests, repository names and references, byte ranges,
 * piece layouts and registry errors. Each type validates its input once, in its factory, and fails with a
 * message that says what was expected. JDK only; nothing here does I/O.
 */
package io.pullmesh.core;
