// Open-loop HTTP load at a fixed request rate, for latency under a given load
// (wrk2's method; wrk2 is not in Debian). wrk's closed loop keeps c requests
// in flight, so at c=16 it saturates the server and its p99 measures queueing
// (c / throughput) more than added work. Here requests are due at a fixed
// rate whatever the server does; each latency counts from when its request
// was due, so a stalled server is charged for the requests it delayed
// (no coordinated omission).
//
//   open_loop --url http://127.0.0.1:PORT/path --body-file F --rate 10000
//             --seconds 6 [--connections 16]
// prints one line: "requests=N rate=R p50=.. p90=.. p99=.. p999=.. max=.. errors=E ..." (ms).
//
// A/B within one run: with --toggle-path P --toggle-on-file A --toggle-off-file B
// [--toggle-seconds 2] [--settle-ms 500], the run is cut into periods of
// toggle-seconds, and at the start of each it POSTs A (even periods: "on")
// or B (odd: "off") to P on a connection of its own. Requests due in a
// period's first settle-ms are left out; each remaining period gives a p99.
// A second line: "periods=N on_p99=.. off_p99=.. pair_ratio=.. on_pooled_p99=..
// off_pooled_p99=.. on_p50=.. off_p50=.." (the medians of the on and off
// periods' p99s; the median of on/off over each on period and the off period
// after it; p99 and p50 of all on and all off periods' requests together),
// and each period's p99 on stderr. Neighbouring seconds share the shared
// machine's state, which phases a minute apart do not.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "open_loop: %s\n", message.c_str());
  std::exit(2);
}

struct Connection {
  int fd = -1;
  bool busy = false;
  Clock::time_point due;  // when the request in flight was due
  std::string in;         // bytes of the response read so far
};

// A non-blocking connection to addr, watched by ep for input under tag.
int Connect(const sockaddr_in& addr, int ep, uint64_t tag) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) Die("socket failed");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    Die(std::string("connect failed: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return fd;
}

// Returns the length of one complete response at the start of `in`, or 0 if
// it is not complete yet; sets ok from the status line.
size_t CompleteResponse(const std::string& in, bool& ok) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  ok = in.compare(0, 12, "HTTP/1.1 200") == 0;
  size_t length = 0;
  std::string head = in.substr(0, head_end);
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  if (size_t p = head.find("\r\ncontent-length:"); p != std::string::npos) {
    length = std::strtoull(head.c_str() + p + 17, nullptr, 10);
  }
  const size_t total = head_end + 4 + length;
  return in.size() >= total ? total : 0;
}

double Percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, body_file;
  double rate = 0, seconds = 6;
  int connections = 16;
  std::string toggle_path, toggle_on_file, toggle_off_file;
  double toggle_seconds = 2, settle_ms = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--url") url = value;
    else if (flag == "--body-file") body_file = value;
    else if (flag == "--rate") rate = std::atof(value);
    else if (flag == "--seconds") seconds = std::atof(value);
    else if (flag == "--connections") connections = std::atoi(value);
    else if (flag == "--toggle-path") toggle_path = value;
    else if (flag == "--toggle-on-file") toggle_on_file = value;
    else if (flag == "--toggle-off-file") toggle_off_file = value;
    else if (flag == "--toggle-seconds") toggle_seconds = std::atof(value);
    else if (flag == "--settle-ms") settle_ms = std::atof(value);
    else Die("unknown flag " + flag);
  }
  if (url.rfind("http://", 0) != 0 || rate <= 0 || connections <= 0 || body_file.empty()) {
    Die("usage: open_loop --url http://HOST:PORT/PATH --body-file F --rate R [--seconds S] [--connections C]\n"
        "  [--toggle-path P --toggle-on-file A --toggle-off-file B [--toggle-seconds 2] [--settle-ms 500]]");
  }
  const std::string rest = url.substr(7);
  const size_t slash = rest.find('/');
  const std::string host_port = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = host_port.find(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.substr(colon + 1).c_str())));
  if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) Die("bad host");

  const auto post = [&](const std::string& target, const std::string& file) {
    std::ifstream in(file);
    if (!in) Die("cannot read " + file);
    std::stringstream body;
    body << in.rdbuf();
    return "POST " + target + " HTTP/1.1\r\nHost: " + host_port +
           "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.str().size()) + "\r\n\r\n" + body.str();
  };
  const std::string request = post(path, body_file);
  const bool toggling = !toggle_path.empty();
  std::string toggle_on, toggle_off;
  if (toggling) {
    if (toggle_on_file.empty() || toggle_off_file.empty() || toggle_seconds <= 0) {
      Die("--toggle-path needs --toggle-on-file, --toggle-off-file and --toggle-seconds > 0");
    }
    toggle_on = post(toggle_path, toggle_on_file);
    toggle_off = post(toggle_path, toggle_off_file);
  }

  const int ep = epoll_create1(0);
  std::vector<Connection> conns(static_cast<size_t>(connections));
  for (size_t i = 0; i < conns.size(); ++i) conns[i].fd = Connect(addr, ep, i);
  Connection toggle;  // responses are read and dropped
  const uint64_t kToggleTag = ~uint64_t{0};
  if (toggling) toggle.fd = Connect(addr, ep, kToggleTag);
  int64_t toggles_sent = 0;
  const size_t periods =
      toggling ? static_cast<size_t>(std::ceil(seconds / toggle_seconds)) : size_t{0};
  std::vector<std::vector<double>> by_period(periods);
  usleep(100'000);  // connections established before the clock starts

  const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate));
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
  Clock::time_point next_due = start;
  std::deque<Clock::time_point> waiting;  // due, but every connection was busy
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<size_t>(rate * seconds) + 16);
  int64_t errors = 0, in_flight = 0;
  // Where the slow requests (over 10 ms) were due, in seconds from the start.
  double slow_first = -1, slow_last = -1;
  int64_t slow = 0;
  std::vector<epoll_event> events(conns.size() + 1);
  char buf[16384];

  while (true) {
    Clock::time_point now = Clock::now();
    if (toggling && static_cast<size_t>(toggles_sent) < periods &&
        now >= start + std::chrono::duration<double>(static_cast<double>(toggles_sent) *
                                                     toggle_seconds)) {
      const std::string& t = toggles_sent % 2 == 0 ? toggle_on : toggle_off;
      if (send(toggle.fd, t.data(), t.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(t.size())) {
        Die("sending a toggle failed");
      }
      ++toggles_sent;
    }
    for (; next_due <= now && next_due < end; next_due += interval) waiting.push_back(next_due);
    for (auto& c : conns) {
      if (waiting.empty()) break;
      if (c.busy) continue;
      if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        Die("send failed (a request larger than the socket buffer is not supported)");
      }
      c.busy = true;
      c.due = waiting.front();
      waiting.pop_front();
      ++in_flight;
    }
    if (now >= end && waiting.empty() && in_flight == 0) break;
    if (now >= end + std::chrono::seconds(10)) Die("responses still missing 10 s after the end");
    timespec timeout{0, 0};
    if (waiting.empty() && next_due < end && next_due > now) {
      timeout.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(next_due - now).count();
    } else if (waiting.empty()) {
      timeout.tv_nsec = 1'000'000;
    }
    const int n = epoll_pwait2(ep, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    if (n < 0 && errno != EINTR) Die("epoll failed");
    now = Clock::now();
    for (int e = 0; e < n; ++e) {
      const uint64_t tag = events[static_cast<size_t>(e)].data.u64;
      if (tag == kToggleTag) {
        while (recv(toggle.fd, buf, sizeof(buf), 0) > 0) {
        }
        continue;
      }
      Connection& c = conns[tag];
      while (true) {
        const ssize_t got = recv(c.fd, buf, sizeof(buf), 0);
        if (got > 0) {
          c.in.append(buf, static_cast<size_t>(got));
          continue;
        }
        if (got == 0) Die("the server closed a connection");
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        Die(std::string("recv failed: ") + std::strerror(errno));
      }
      bool ok = false;
      if (const size_t used = CompleteResponse(c.in, ok); used > 0 && c.busy) {
        c.in.erase(0, used);
        c.busy = false;
        --in_flight;
        if (!ok) ++errors;
        const double ms = std::chrono::duration<double, std::milli>(now - c.due).count();
        latencies_ms.push_back(ms);
        if (toggling) {
          const double at = std::chrono::duration<double>(c.due - start).count();
          const auto period = static_cast<size_t>(at / toggle_seconds);
          const double into_ms = (at - static_cast<double>(period) * toggle_seconds) * 1000;
          if (period < periods && into_ms >= settle_ms) by_period[period].push_back(ms);
        }
        if (ms > 10) {
          const double at = std::chrono::duration<double>(c.due - start).count();
          if (slow++ == 0) slow_first = at;
          slow_last = at;
        }
      }
    }
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("requests=%zu rate=%.0f p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f errors=%lld slow=%lld at=%.2f-%.2fs\n",
              latencies_ms.size(), static_cast<double>(latencies_ms.size()) / seconds,
              Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.9), Percentile(latencies_ms, 0.99),
              Percentile(latencies_ms, 0.999), latencies_ms.empty() ? 0.0 : latencies_ms.back(),
              static_cast<long long>(errors), static_cast<long long>(slow), slow_first, slow_last);
  if (toggling) {
    std::vector<double> on, off, ratios, on_all, off_all;
    std::vector<double> p99s(periods, -1);
    for (size_t k = 0; k < periods; ++k) {
      if (by_period[k].size() < 100) continue;  // a partial last period
      std::vector<double>& all = k % 2 == 0 ? on_all : off_all;
      all.insert(all.end(), by_period[k].begin(), by_period[k].end());
      std::sort(by_period[k].begin(), by_period[k].end());
      p99s[k] = Percentile(by_period[k], 0.99);
      (k % 2 == 0 ? on : off).push_back(p99s[k]);
    }
    std::sort(on_all.begin(), on_all.end());
    std::sort(off_all.begin(), off_all.end());
    for (size_t k = 0; k + 1 < periods; k += 2) {
      if (p99s[k] > 0 && p99s[k + 1] > 0) ratios.push_back(p99s[k] / p99s[k + 1]);
    }
    std::fprintf(stderr, "open_loop: period p99s (on, off, ...):");
    for (double v : p99s) std::fprintf(stderr, " %.3f", v);
    std::fprintf(stderr, "\n");
    std::sort(on.begin(), on.end());
    std::sort(off.begin(), off.end());
    std::sort(ratios.begin(), ratios.end());
    std::printf(
        "periods=%zu on_p99=%.3f off_p99=%.3f pair_ratio=%.3f on_pooled_p99=%.3f "
        "off_pooled_p99=%.3f on_p50=%.3f off_p50=%.3f\n",
        on.size() + off.size(), Percentile(on, 0.5), Percentile(off, 0.5), Percentile(ratios, 0.5),
        Percentile(on_all, 0.99), Percentile(off_all, 0.99), Percentile(on_all, 0.5),
        Percentile(off_all, 0.5));
  }
  return 0;
}
