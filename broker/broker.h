/*
 * broker.h - the embedded Kafka-protocol broker (librdkafka's mock cluster).
 *
 * For development, tests, the demo and benchmarks only: it speaks the real
 * Kafka protocol on loopback ports, so fundguard and any other client (kcat)
 * use it exactly as they would a real cluster, but it keeps everything in
 * memory and only a bounded tail of each partition. Production points
 * bootstrap.servers at a real cluster; nothing else changes.
 */
#ifndef FG_BROKER_H
#define FG_BROKER_H

/** @brief `fundguard broker ...`: argv[0] is "broker". @returns the exit code. */
int fg_broker_main(int argc, char **argv);

#endif
