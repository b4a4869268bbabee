// A host-side stand-in for the few Arduino APIs the reference firmware
// uses, so the test suite can compile docs/serial-protocol.md's sketch
// with the machine's C++ compiler and run it on a pseudo-terminal.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HIGH 1
#define LOW 0
#define OUTPUT 1
#define INPUT 0
#define LED_BUILTIN 13

unsigned long millis();
void delay(unsigned long ms);
void pinMode(int pin, int mode);
void digitalWrite(int pin, int value);

class HostSerial {
 public:
  void begin(long baud);
  int available();
  int read();
  size_t write(uint8_t b);
  size_t print(const char *s);
  size_t print(char c);
  size_t print(int v);
  size_t print(long v);
  size_t print(unsigned long v);
  size_t println();
  size_t println(const char *s);
  size_t println(long v);
  size_t println(unsigned long v);
};

extern HostSerial Serial;
