#!/bin/sh
# Stands in for the Check suites when configure did not find Check.
echo "the Check unit test framework was not found at configure time;"
echo "install it (apt-get install check) and run configure again"
exit 99
