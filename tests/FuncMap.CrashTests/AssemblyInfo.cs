// The crash tests run real host processes against real Azurites with timing (leases of seconds): two classes at
// once on a two-core runner starve each other's hosts, so they run one after the other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
