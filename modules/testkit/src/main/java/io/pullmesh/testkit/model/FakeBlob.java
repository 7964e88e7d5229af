package io.pullmesh.testkit.model;

import io.pullmesh.core.Digest;
import java.nio.file.Path;

/**
 * One blob of a {@link FakeModel}: a layer or the config, stored at {@code file}.
 *
 * @param digest SHA-256 of the file's bytes
 * @param size bytes
 * @param mediaType as written in the manifest
 * @param file where the bytes are on disk
 */
public record FakeBlob(Digest digest, long size, String mediaType, Path file) {}
