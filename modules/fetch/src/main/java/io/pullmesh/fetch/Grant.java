package io.pullmesh.fetch;

/**
 * What a waiting lane was given: {@code bytes} it may read on, out of the node's buffer memory ({@link BufferBudget}) or
 * out of the upstream cap ({@link RateShares}). A value; who resumes the lane is the {@link LanePacer}'s business.
 */
record Grant<L>(L lane, long bytes) {}
