package config

import "testing"

func TestConfTextStandalone(t *testing.T) {
	c, err := ParseBytes("zoo.cfg", []byte("tickTime=2000\ndataDir=/tmp/fl-apache/data\nclientPort=21911\nclientPortAddress=127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Captured from Apache ZooKeeper 3.8.0 with this zoo.cfg, except that
	// Apache prints dataDir/version-2 (see ConfText).
	want := `clientPort=21911
secureClientPort=-1
dataDir=/tmp/fl-apache/data
dataDirSize=67109337
dataLogDir=/tmp/fl-apache/data
dataLogSize=67109337
tickTime=2000
maxClientCnxns=60
minSessionTimeout=4000
maxSessionTimeout=40000
clientPortListenBacklog=-1
serverId=0
`
	if got := ConfText(c, 67109337, 67109337); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestConfTextQuorum(t *testing.T) {
	c, err := Parse("testdata/ensemble/zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir, c.DataLogDir = "/data", "/data"
	// QuorumZooKeeperServer.dumpConf; members as QuorumServer.toString:
	// the client address prints only when the server line has one.
	want := `clientPort=2181
secureClientPort=-1
dataDir=/data
dataDirSize=1
dataLogDir=/data
dataLogSize=2
tickTime=2000
maxClientCnxns=60
minSessionTimeout=4000
maxSessionTimeout=40000
clientPortListenBacklog=-1
serverId=3
initLimit=10
syncLimit=5
electionAlg=3
electionPort=3888
quorumPort=2888
peerType=0
membership: 
server.1=zoo1:2888:3888:participant
server.2=zoo2:2888:3888:participant;0.0.0.0:2182
server.3=[::1]:2888:3888:participant
server.4=zoo4:2888:3888:observer
version=0`
	if got := ConfText(c, 1, 2); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
