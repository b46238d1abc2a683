/* A shared object without the driver entry symbol. */
int not_a_driver(void);
int not_a_driver(void) { return 42; }
