//! Isolation: 200 tests run in parallel, every one with the same node names, interface
//! names, addresses and server port. Each must reach only its own server and see only
//! its own interfaces: zero crosstalk.

use std::process::Command;

mod victims {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use netns_test::{Net, netns_test};

    /// One isolation victim: a server on 192.168.1.2:7000 in ns2 that answers with the
    /// test's own name; the client in ns1 must always get that name back.
    macro_rules! victim {
        ($name:ident) => {
            #[netns_test(topology = "../fixtures/s1.toml", capture = "never")]
            #[ignore = "run by isolation::parallel_tests_never_see_each_other"]
            fn $name(net: &Net) {
                check(net, stringify!($name));
            }
        };
    }

    fn check(net: &Net, me: &'static str) {
        let listener = net
            .node("ns2")
            .run(|| TcpListener::bind("192.168.1.2:7000"))
            .unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..3 {
                let (mut c, _) = listener.accept().unwrap();
                c.write_all(me.as_bytes()).unwrap();
            }
        });
        for _ in 0..3 {
            let got = net.node("ns1").run(|| {
                let mut s = TcpStream::connect("192.168.1.2:7000").unwrap();
                let mut b = String::new();
                s.read_to_string(&mut b).unwrap();
                b
            });
            assert_eq!(got, me, "crosstalk: another test's server answered");
        }
        server.join().unwrap();
        let names = crate::common::own_interfaces(net.node("ns1"));
        assert_eq!(
            names,
            ["lo", "veth-ns1"],
            "a test sees only its own interfaces"
        );
        let host = crate::common::own_interfaces(net.host());
        assert_eq!(
            host,
            ["lo"],
            "the host node is the test's own, not the machine's"
        );
    }

    victim!(t000);
    victim!(t001);
    victim!(t002);
    victim!(t003);
    victim!(t004);
    victim!(t005);
    victim!(t006);
    victim!(t007);
    victim!(t008);
    victim!(t009);
    victim!(t010);
    victim!(t011);
    victim!(t012);
    victim!(t013);
    victim!(t014);
    victim!(t015);
    victim!(t016);
    victim!(t017);
    victim!(t018);
    victim!(t019);
    victim!(t020);
    victim!(t021);
    victim!(t022);
    victim!(t023);
    victim!(t024);
    victim!(t025);
    victim!(t026);
    victim!(t027);
    victim!(t028);
    victim!(t029);
    victim!(t030);
    victim!(t031);
    victim!(t032);
    victim!(t033);
    victim!(t034);
    victim!(t035);
    victim!(t036);
    victim!(t037);
    victim!(t038);
    victim!(t039);
    victim!(t040);
    victim!(t041);
    victim!(t042);
    victim!(t043);
    victim!(t044);
    victim!(t045);
    victim!(t046);
    victim!(t047);
    victim!(t048);
    victim!(t049);
    victim!(t050);
    victim!(t051);
    victim!(t052);
    victim!(t053);
    victim!(t054);
    victim!(t055);
    victim!(t056);
    victim!(t057);
    victim!(t058);
    victim!(t059);
    victim!(t060);
    victim!(t061);
    victim!(t062);
    victim!(t063);
    victim!(t064);
    victim!(t065);
    victim!(t066);
    victim!(t067);
    victim!(t068);
    victim!(t069);
    victim!(t070);
    victim!(t071);
    victim!(t072);
    victim!(t073);
    victim!(t074);
    victim!(t075);
    victim!(t076);
    victim!(t077);
    victim!(t078);
    victim!(t079);
    victim!(t080);
    victim!(t081);
    victim!(t082);
    victim!(t083);
    victim!(t084);
    victim!(t085);
    victim!(t086);
    victim!(t087);
    victim!(t088);
    victim!(t089);
    victim!(t090);
    victim!(t091);
    victim!(t092);
    victim!(t093);
    victim!(t094);
    victim!(t095);
    victim!(t096);
    victim!(t097);
    victim!(t098);
    victim!(t099);
    victim!(t100);
    victim!(t101);
    victim!(t102);
    victim!(t103);
    victim!(t104);
    victim!(t105);
    victim!(t106);
    victim!(t107);
    victim!(t108);
    victim!(t109);
    victim!(t110);
    victim!(t111);
    victim!(t112);
    victim!(t113);
    victim!(t114);
    victim!(t115);
    victim!(t116);
    victim!(t117);
    victim!(t118);
    victim!(t119);
    victim!(t120);
    victim!(t121);
    victim!(t122);
    victim!(t123);
    victim!(t124);
    victim!(t125);
    victim!(t126);
    victim!(t127);
    victim!(t128);
    victim!(t129);
    victim!(t130);
    victim!(t131);
    victim!(t132);
    victim!(t133);
    victim!(t134);
    victim!(t135);
    victim!(t136);
    victim!(t137);
    victim!(t138);
    victim!(t139);
    victim!(t140);
    victim!(t141);
    victim!(t142);
    victim!(t143);
    victim!(t144);
    victim!(t145);
    victim!(t146);
    victim!(t147);
    victim!(t148);
    victim!(t149);
    victim!(t150);
    victim!(t151);
    victim!(t152);
    victim!(t153);
    victim!(t154);
    victim!(t155);
    victim!(t156);
    victim!(t157);
    victim!(t158);
    victim!(t159);
    victim!(t160);
    victim!(t161);
    victim!(t162);
    victim!(t163);
    victim!(t164);
    victim!(t165);
    victim!(t166);
    victim!(t167);
    victim!(t168);
    victim!(t169);
    victim!(t170);
    victim!(t171);
    victim!(t172);
    victim!(t173);
    victim!(t174);
    victim!(t175);
    victim!(t176);
    victim!(t177);
    victim!(t178);
    victim!(t179);
    victim!(t180);
    victim!(t181);
    victim!(t182);
    victim!(t183);
    victim!(t184);
    victim!(t185);
    victim!(t186);
    victim!(t187);
    victim!(t188);
    victim!(t189);
    victim!(t190);
    victim!(t191);
    victim!(t192);
    victim!(t193);
    victim!(t194);
    victim!(t195);
    victim!(t196);
    victim!(t197);
    victim!(t198);
    victim!(t199);
}

#[test]
fn parallel_tests_never_see_each_other() {
    let _serial = crate::SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["isolation::victims::", "--ignored", "--test-threads=32"])
        .env("NETNS_TEST_VICTIM_TOKEN", "isolation")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or_default();
    assert!(line.contains("200 passed; 0 failed"), "{line}");
    println!("isolation: 200 tests, 32 at a time, same names and addresses: 0 crosstalk ({line})");
}
