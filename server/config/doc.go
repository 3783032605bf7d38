// Package config parses zoo.cfg (Java properties syntax, the same file
// Apache ZooKeeper 3.8 reads), the myid file and the 3.5+ dynamic
// configuration file into a Config, fills Apache 3.8 defaults and validates.
//
// Every problem is reported with the file, the line and the key
// ("zoo.cfg:7: initLimit: must be > 0"), all of them at once (errors.Join).
// Unknown keys are not errors: as in Apache they are kept (Config.Extra) and
// described in Config.Warnings for the caller to log.
//
// Keys that Apache reads as JVM system properties (jute.maxbuffer, skipACL,
// 4lw.commands.whitelist, admin.*, extendedTypesEnabled, …) are accepted as
// zoo.cfg keys with or without the "zookeeper." prefix.
//
// Nothing else in zkgo reads configuration files or environment variables
// (the one variable read here is ZK_SUPER_DIGEST). This package imports
// nothing of zkgo and holds no goroutines.
package config
