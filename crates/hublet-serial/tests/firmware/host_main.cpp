// Runs an Arduino sketch on the host: Serial is the master side of a new
// pseudo-terminal, whose slave path is printed first ("PTY /dev/pts/N"),
// for the bridge to attach to.
#include "Arduino.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

void setup();
void loop();

static int master = -1;
static struct timespec started;

HostSerial Serial;

unsigned long millis() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long)((now.tv_sec - started.tv_sec) * 1000L + (now.tv_nsec - started.tv_nsec) / 1000000L);
}

void delay(unsigned long ms) { usleep((useconds_t)(ms * 1000)); }
void pinMode(int, int) {}
void digitalWrite(int, int) {}

void HostSerial::begin(long) {}

int HostSerial::available() {
  int n = 0;
  if (ioctl(master, FIONREAD, &n) != 0) return 0;
  return n;
}

int HostSerial::read() {
  unsigned char c;
  return ::read(master, &c, 1) == 1 ? c : -1;
}

size_t HostSerial::write(uint8_t b) {
  while (::write(master, &b, 1) != 1) usleep(1000);
  return 1;
}

size_t HostSerial::print(const char *s) {
  size_t n = 0;
  for (; s[n] != '\0'; n++) write((uint8_t)s[n]);
  return n;
}

size_t HostSerial::print(char c) { return write((uint8_t)c); }

size_t HostSerial::print(long v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%ld", v);
  return print(buf);
}

size_t HostSerial::print(int v) { return print((long)v); }

size_t HostSerial::print(unsigned long v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%lu", v);
  return print(buf);
}

size_t HostSerial::println() { return print("\r\n"); }
size_t HostSerial::println(const char *s) { return print(s) + println(); }
size_t HostSerial::println(long v) { return print(v) + println(); }
size_t HostSerial::println(unsigned long v) { return print(v) + println(); }

int main() {
  clock_gettime(CLOCK_MONOTONIC, &started);
  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    perror("pty");
    return 1;
  }
  const char *name = ptsname(master);
  // Raw mode on the slave side, kept open so what the board prints before
  // the bridge opens the port is neither echoed nor lost.
  int slave = open(name, O_RDWR | O_NOCTTY);
  struct termios t;
  if (slave < 0 || tcgetattr(slave, &t) != 0) {
    perror("slave");
    return 1;
  }
  cfmakeraw(&t);
  tcsetattr(slave, TCSANOW, &t);
  printf("PTY %s\n", name);
  fflush(stdout);
  setup();
  for (;;) {
    struct pollfd p = {master, POLLIN, 0};
    poll(&p, 1, 5);
    loop();
  }
}
