/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipaddr-announce: tells the link that an address now lives behind this
 * interface, so that neighbours and switches stop sending its traffic to
 * the node that had it before (the ipaddr agent runs it after adding a
 * floating address).
 *
 *   IPv4: gratuitous ARP, as a request and as a reply per round (some
 *         devices only learn from one of the two), sender = target = the
 *         address, from the interface's MAC to the broadcast address.
 *   IPv6: an unsolicited neighbour advertisement to all nodes (ff02::1)
 *         with the override flag and our link-layer address, so that
 *         existing neighbour cache entries are replaced (RFC 4861 7.2.6).
 *
 * Usage: ipaddr-announce [--count N] [--interval MS] IFACE ADDRESS
 * Exit status: 0 sent (or nothing to do: the interface has no ARP), 1
 * failure, 2 usage.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/common.h"

#define COUNT_MAX 100
#define INTERVAL_MAX_MSEC 10000

struct link {
        const char *name;
        int ifindex;
        uint8_t mac[ETH_ALEN];
};

/* The ARP payload for Ethernet and IPv4 (struct arphdr has no addresses). */
struct arp_frame {
        struct ether_header eth;
        struct arphdr arp;
        uint8_t sender_mac[ETH_ALEN];
        uint8_t sender_ip[4];
        uint8_t target_mac[ETH_ALEN];
        uint8_t target_ip[4];
} __attribute__((packed));

struct na_packet {
        struct nd_neighbor_advert na;
        struct nd_opt_hdr opt;
        uint8_t mac[ETH_ALEN];
} __attribute__((packed));

static int fail(const char *fmt, ...) _printf_(1, 2);
static int fail(const char *fmt, ...) {
        va_list ap;

        fputs("ipaddr-announce: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

/* Fills l from the interface. Returns 1 when it speaks ARP/ND over
 * Ethernet, 0 when there is nothing to announce on it, -1 on failure
 * (after a message). */
static int link_lookup(const char *name, struct link *l) {
        _cleanup_close_ int fd = -1;
        struct ifreq ifr = {};

        if (strlen(name) >= IFNAMSIZ) {
                fail("interface name '%s' is too long", name);
                return -1;
        }
        l->name = name;
        l->ifindex = (int)if_nametoindex(name);
        if (l->ifindex == 0) {
                fail("interface '%s': %m", name);
                return -1;
        }
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd == -1) {
                fail("socket: %m");
                return -1;
        }
        memcpy(ifr.ifr_name, name, strlen(name) + 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1) {
                fail("interface '%s': flags: %m", name);
                return -1;
        }
        if (!(ifr.ifr_flags & IFF_UP)) {
                fail("interface '%s' is down", name);
                return -1;
        }
        if (ifr.ifr_flags & (IFF_NOARP | IFF_LOOPBACK))
                return 0;
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) == -1) {
                fail("interface '%s': hardware address: %m", name);
                return -1;
        }
        if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
                return 0;
        memcpy(l->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
        return 1;
}

static int send_arp(int fd, const struct link *l, const struct in_addr *addr, uint16_t op) {
        struct arp_frame f = {};
        struct sockaddr_ll to = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_ARP),
                .sll_ifindex = l->ifindex,
                .sll_halen = ETH_ALEN,
        };

        memset(f.eth.ether_dhost, 0xff, ETH_ALEN);
        memcpy(f.eth.ether_shost, l->mac, ETH_ALEN);
        f.eth.ether_type = htons(ETHERTYPE_ARP);
        f.arp.ar_hrd = htons(ARPHRD_ETHER);
        f.arp.ar_pro = htons(ETHERTYPE_IP);
        f.arp.ar_hln = ETH_ALEN;
        f.arp.ar_pln = 4;
        f.arp.ar_op = htons(op);
        memcpy(f.sender_mac, l->mac, ETH_ALEN);
        memcpy(f.sender_ip, addr, 4);
        /* A request asks about nobody in particular; a reply goes to all. */
        if (op == ARPOP_REPLY)
                memset(f.target_mac, 0xff, ETH_ALEN);
        memcpy(f.target_ip, addr, 4);
        memset(to.sll_addr, 0xff, ETH_ALEN);

        if (sendto(fd, &f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)) == -1)
                return fail("%s: ARP %s: %m", l->name, op == ARPOP_REQUEST ? "request" : "reply");
        return 0;
}

static int send_na(int fd, const struct link *l, const struct in6_addr *addr) {
        struct na_packet p = {};
        struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)l->ifindex };
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        } control = {};
        struct iovec iov = { .iov_base = &p, .iov_len = sizeof(p) };
        struct msghdr msg = {
                .msg_name = &to,
                .msg_namelen = sizeof(to),
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        struct in6_pktinfo info = { .ipi6_addr = *addr, .ipi6_ifindex = (unsigned)l->ifindex };

        inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
        p.na.nd_na_type = ND_NEIGHBOR_ADVERT;
        p.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
        p.na.nd_na_target = *addr;
        p.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
        p.opt.nd_opt_len = 1; /* in units of 8 bytes: type, length, MAC */
        memcpy(p.mac, l->mac, ETH_ALEN);

        /* The address itself is the source, on this interface. The kernel
         * fills in the ICMPv6 checksum. */
        cm->cmsg_level = IPPROTO_IPV6;
        cm->cmsg_type = IPV6_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(cm), &info, sizeof(info));

        if (sendmsg(fd, &msg, 0) == -1) {
                if (errno == EINVAL || errno == EADDRNOTAVAIL)
                        return fail("%s: neighbour advertisement: %m (is the address configured, and past duplicate "
                                    "address detection?)",
                                    l->name);
                return fail("%s: neighbour advertisement: %m", l->name);
        }
        return 0;
}

static int open_icmp6(const struct link *l) {
        _cleanup_close_ int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
        int hops = 255; /* receivers drop ND messages that crossed a router (RFC 4861 7.1.2) */
        int ifindex = l->ifindex;

        if (fd == -1) {
                fail("ICMPv6 socket: %m");
                return -1;
        }
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) == -1 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) == -1) {
                fail("ICMPv6 socket options: %m");
                return -1;
        }
        return TAKE_FD(fd);
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: ipaddr-announce [--count N] [--interval MS] IFACE ADDRESS\n"
                "Announces ADDRESS (IPv4: gratuitous ARP; IPv6: unsolicited neighbour advertisement)\n"
                "N times (default 5, at most %d), MS milliseconds apart (default 200).\n",
                COUNT_MAX);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "count", required_argument, NULL, 'c' },
                { "interval", required_argument, NULL, 'i' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint32_t count = 5, interval_ms = 200;
        _cleanup_close_ int fd = -1;
        struct in6_addr a6;
        struct in_addr a4;
        struct link l = {};
        int family, c, r;

        while ((c = getopt_long(argc, argv, "c:i:h", options, NULL)) != -1)
                switch (c) {
                case 'c':
                        if (parse_uint32(optarg, &count) < 0 || count < 1 || count > COUNT_MAX) {
                                fail("--count: expected 1 to %d, got '%s'", COUNT_MAX, optarg);
                                return 2;
                        }
                        break;
                case 'i':
                        if (parse_uint32(optarg, &interval_ms) < 0 || interval_ms > INTERVAL_MAX_MSEC) {
                                fail("--interval: expected 0 to %d ms, got '%s'", INTERVAL_MAX_MSEC, optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        if (inet_pton(AF_INET, argv[optind + 1], &a4) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, argv[optind + 1], &a6) == 1)
                family = AF_INET6;
        else {
                fail("'%s' is not an IPv4 or IPv6 address", argv[optind + 1]);
                return 2;
        }

        r = link_lookup(argv[optind], &l);
        if (r < 0)
                return 1;
        if (r == 0) {
                printf("%s: no ARP or neighbour discovery on this interface; nothing to announce\n", l.name);
                return 0;
        }

        if (family == AF_INET) {
                fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
                if (fd == -1)
                        return fail("packet socket: %m");
        } else {
                fd = open_icmp6(&l);
                if (fd < 0)
                        return 1;
        }

        for (uint32_t i = 0; i < count; i++) {
                if (i > 0)
                        usleep(interval_ms * 1000);
                if (family == AF_INET)
                        r = send_arp(fd, &l, &a4, ARPOP_REQUEST) || send_arp(fd, &l, &a4, ARPOP_REPLY);
                else
                        r = send_na(fd, &l, &a6);
                if (r)
                        return 1;
        }
        return 0;
}
