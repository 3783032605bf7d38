package fourletter

// notServing is what every word except ruok, envi, gtmk, stmk and isro
// prints while the server is not running (ZooKeeper's
// ZK_NOT_SERVING).
const notServing = "This ZooKeeper instance is not currently serving requests"
